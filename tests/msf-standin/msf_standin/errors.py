"""AWS JSON 1.1 errors, as the SDKs parse them: `__type` in the body (and `X-Amzn-ErrorType`)."""


class AwsError(Exception):
    """An error answer: HTTP status, the error code and a message."""

    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status

    def body(self) -> dict:
        # Modeled errors carry `Message` (their one member in the model); `__type` names them.
        return {"__type": self.code, "Message": self.message}


def not_found(what: str) -> AwsError:
    return AwsError("ResourceNotFoundException", what)


def in_use(message: str) -> AwsError:
    return AwsError("ResourceInUseException", message)


def invalid_argument(message: str) -> AwsError:
    return AwsError("InvalidArgumentException", message)


def concurrent(message: str) -> AwsError:
    return AwsError("ConcurrentModificationException", message)


def unsupported(message: str) -> AwsError:
    return AwsError("UnsupportedOperationException", message)
