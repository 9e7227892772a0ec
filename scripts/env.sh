# Shared environment for the scripts: where the caches and the build live (outside the clone).
export RESCALER_CACHE="${RESCALER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/flink-rescaler}"
export RESCALER_FLINK_VERSION="${RESCALER_FLINK_VERSION:-2.3.0}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$RESCALER_CACHE/target}"
export PATH="$RESCALER_CACHE/bin:$PATH"
