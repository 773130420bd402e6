#!/usr/bin/env bash
# Installs what Trellis needs on a Debian/Ubuntu machine when it is missing. Fast when
# present.
#   scripts/install-deps.sh            all of it: what make test needs
#   scripts/install-deps.sh --runtime  what building and make demo need: the PostgreSQL
#                                      server binaries, libpq headers, pkg-config, psql and
#                                      python3 (the demo formats JSON with it) — not the
#                                      test tools (a browser, systemd-analyze, the Python
#                                      venv), which are most of a fresh machine's download
set -euo pipefail

scope=all
case "${1:-}" in
  "") ;;
  --runtime) scope=runtime ;;
  *) echo "install-deps: unknown option $1 (expected --runtime or nothing)" >&2; exit 2 ;;
esac

missing=()
have_server() {
  local dir
  for dir in /usr/lib/postgresql/*/bin; do
    [[ -x "$dir/initdb" && -x "$dir/pg_ctl" ]] && return 0
  done
  command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1
}
have_server || missing+=(postgresql)
[[ -f /usr/include/postgresql/libpq-fe.h ]] || missing+=(libpq-dev)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
command -v psql >/dev/null 2>&1 || missing+=(postgresql-client)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
if [[ $scope == all ]]; then
  # ss (iproute2) reads the relay's listen backlog (ListenBacklogTests).
  command -v ss >/dev/null 2>&1 || missing+=(iproute2)
  # systemd-analyze checks the deployment units (DeploymentTests).
  command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
  # A headless browser and its WebDriver for the console tests (ConsoleTests).
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  command -v chromedriver >/dev/null 2>&1 || [[ -x /usr/lib/chromium/chromedriver ]] || missing+=(chromium-driver)
  # venv makes the pinned schemathesis below (APIFuzzTests).
  python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
fi

if ((${#missing[@]} > 0)); then
  echo "install-deps: installing ${missing[*]}"
  sudo=""
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 || { echo "install-deps: need root or sudo to install ${missing[*]}" >&2; exit 1; }
    sudo="sudo"
  fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! command -v swift >/dev/null 2>&1; then
  echo "install-deps: the Swift 6 toolchain is required (swift not on PATH)" >&2
  exit 1
fi

[[ $scope == all ]] || exit 0

# Python test tools, pinned, in a venv of the checkout's own (.trellis/venv, ignored by
# git): schemathesis fuzzes the relay against docs/openapi.yaml in make test.
SCHEMATHESIS_VERSION=4.32.5
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.trellis/venv"
if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
  echo "install-deps: installing schemathesis $SCHEMATHESIS_VERSION into .trellis/venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi
# The official A2A SDK and an ASGI server: the a2a handler's tests start a real agent.
A2A_SDK_VERSION=1.3.0
UVICORN_VERSION=0.54.0
if ! "$venv/bin/python" -c "import a2a, uvicorn, starlette, sse_starlette; from importlib.metadata import version; assert version('a2a-sdk') == '$A2A_SDK_VERSION' and uvicorn.__version__ == '$UVICORN_VERSION'" 2>/dev/null; then
  echo "install-deps: installing a2a-sdk $A2A_SDK_VERSION and uvicorn $UVICORN_VERSION into .trellis/venv"
  [ -x "$venv/bin/pip" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "a2a-sdk[http-server]==$A2A_SDK_VERSION" "uvicorn==$UVICORN_VERSION"
fi
