# Two commands do all set-up on a fresh Debian machine with Swift 6:
#   make test   install what is missing, build, run the whole suite
#   make demo   install what is missing, build, start the local PostgreSQL, migrate, show it
SWIFT ?= swift

# One test process per target, one after another: each gets the machine (2 cores) to
# itself, and the bounded chaos run — three schedulers, a relay, 200 clients and database
# restarts — runs last, alone, so its load does not disturb the timing of other tests.
TEST_TARGETS = TrellisCoreTests TrellisPQTests TrellisStoreTests TrellisSchedulerTests TrellisRelayTests TrellisCLITests

# make install: release build, then the binary, systemd units, an example environment
# file (kept when present) and shell completions under DESTDIR/PREFIX.
PREFIX ?= /usr/local
DESTDIR ?=
CONFIG ?= release
SYSTEMD_DIR ?= /etc/systemd/system
SHARE = $(DESTDIR)$(PREFIX)/share

.PHONY: deps runtime-deps build test demo clean install install-files

# Everything make test needs (the test tools too: a browser, systemd-analyze, a Python venv).
deps:
	@bash scripts/install-deps.sh

# What building and the demo need.
runtime-deps:
	@bash scripts/install-deps.sh --runtime

build: runtime-deps
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

install: runtime-deps
	$(SWIFT) build -c $(CONFIG) --product trellis
	@$(MAKE) --no-print-directory install-files

# The copy step alone (tests run it against an existing build with CONFIG=debug).
install-files:
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(SYSTEMD_DIR) $(DESTDIR)/etc/trellis \
		$(SHARE)/bash-completion/completions $(SHARE)/zsh/site-functions $(SHARE)/fish/vendor_completions.d
	install -m 0755 .build/$(CONFIG)/trellis $(DESTDIR)$(PREFIX)/bin/trellis
	for unit in trellis-scheduler@.service trellis-relay.service; do \
		sed 's|/usr/local/bin/trellis|$(PREFIX)/bin/trellis|' deploy/systemd/$$unit > $(DESTDIR)$(SYSTEMD_DIR)/$$unit; \
		chmod 0644 $(DESTDIR)$(SYSTEMD_DIR)/$$unit; \
	done
	[ -e $(DESTDIR)/etc/trellis/trellis.env ] || install -m 0640 deploy/systemd/trellis.env $(DESTDIR)/etc/trellis/trellis.env
	.build/$(CONFIG)/trellis --generate-completion-script bash > $(SHARE)/bash-completion/completions/trellis
	.build/$(CONFIG)/trellis --generate-completion-script zsh > $(SHARE)/zsh/site-functions/_trellis
	.build/$(CONFIG)/trellis --generate-completion-script fish > $(SHARE)/fish/vendor_completions.d/trellis.fish
	@echo "installed trellis into $(DESTDIR)$(PREFIX); next (docs/operations.md): useradd --system trellis,"
	@echo "edit /etc/trellis/trellis.env, systemctl daemon-reload, systemctl enable --now trellis-scheduler@9464 trellis-relay"

clean:
	-.build/debug/trellis db stop 2>/dev/null
	rm -rf .build .trellis
