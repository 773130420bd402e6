# Two commands do all set-up on a fresh Debian machine with Swift 6:
#   make test   install what is missing, build, run the whole suite
#   make demo   install what is missing, build, start the local PostgreSQL, migrate, show it
SWIFT ?= swift

# One test process per target, one after another: each gets the machine (2 cores) to
# itself, and the bounded chaos run — three schedulers, a relay, 200 clients and database
# restarts — runs last, alone, so its load does not disturb the timing of other tests.
TEST_TARGETS = TrellisCoreTests TrellisPQTests TrellisStoreTests TrellisSchedulerTests TrellisRelayTests TrellisCLITests

.PHONY: deps build test demo clean

deps:
	@bash scripts/install-deps.sh

build: deps
	$(SWIFT) build

test: deps
	$(SWIFT) build --build-tests
	@set -e; for target in $(TEST_TARGETS); do \
		echo "== $$target"; \
		$(SWIFT) test --skip-build --filter "^$$target\." --skip "ChaosTests"; \
	done
	@echo "== ChaosTests"
	$(SWIFT) test --skip-build --filter "ChaosTests"

demo: build
	@bash scripts/demo.sh

clean:
	-.build/debug/trellis db stop 2>/dev/null
	rm -rf .build .trellis
