//! The rescale console backend.
