# Two commands do all set-up on a fresh Debian machine with Swift 6:
#   make test   install what is missing, build, run the whole suite
#   make demo   install what is missing, build, start the local PostgreSQL, migrate, show it
SWIFT ?= swift

.PHONY: deps build test demo clean

deps:
	@bash scripts/install-deps.sh

build: deps
	$(SWIFT) build

# The bounded chaos run loads the whole machine (three schedulers, a relay, 200 clients,
# database restarts), so it runs on its own after the rest of the suite.
test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip "ChaosTests"
	$(SWIFT) test --filter "ChaosTests"

demo: build
	@bash scripts/demo.sh

clean:
	-.build/debug/trellis db stop 2>/dev/null
	rm -rf .build .trellis
