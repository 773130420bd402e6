import Foundation
import Testing
import TrellisCore
import TrellisPQ
import TrellisScheduler
import TrellisStore
import TrellisTestSupport

/// The console at /ui/ in a real headless Chromium (WebDriver), against a real relay,
/// scheduler and database: a run's DAG turning green live, an approval decided from the
/// inbox, a relay killed mid-run and the page catching up, and a view-only token that
/// gets no control buttons and whose forced request is refused. Screenshots land in
/// .build/console-screenshots/.
@Suite("Console", .serialized)
struct ConsoleTests {
    static let screenshots = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appending(path: ".build/console-screenshots")

    /// The statuses the page shows for every node of the run page's DAG.
    static let nodeStatuses = "return [...document.querySelectorAll('#dag [data-node]')].map(n => n.dataset.node + '=' + n.dataset.status).join(',')"

    /// Signs in through the form, as a person would, then opens `hash`.
    func signIn(_ browser: WebDriver, base: String, token: String, then hash: String) async throws {
        try await browser.open("\(base)/ui/")
        try await browser.wait("the sign-in form", until: "return !!document.getElementById('token')")
        try await browser.run("document.getElementById('token').value = arguments[0]; document.getElementById('sign-in').requestSubmit()", [.string(token)])
        try await browser.wait("signed in", until: "return !document.getElementById('token') && document.getElementById('sign-out').hidden === false")
        try await browser.run("location.hash = arguments[0]", [.string(hash)])
    }

    func allSucceeded(_ browser: WebDriver, count: Int) async throws {
        try await browser.wait(timeout: .seconds(60), "every node succeeded on the page", until: """
            const nodes = [...document.querySelectorAll('#dag [data-node]')];
            return nodes.length === \(count) && nodes.every(n => n.dataset.status === 'succeeded')
                && document.querySelector('#run-status .status').dataset.status === 'succeeded'
                && document.getElementById('run-progress').dataset.percent === '100'
            """)
    }

    @Test func aRunPageOpenedBeforeTheRunStartsSeesEveryNodeSucceed() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { _ = try await Seeder(connection: $0).load(as: "admin") }
            try await RelayHarness.with(db.url) { relay in
                let (token, run) = try await relay.startFanOut()
                let browser = try await WebDriver()
                do {
                    try await signIn(browser, base: relay.base, token: token, then: "#/runs/\(run)")
                    try await browser.wait("the DAG drawn with six nodes, none started", until: """
                        const nodes = [...document.querySelectorAll('#dag [data-node]')];
                        return nodes.length === 6 && nodes.every(n => ['pending', 'ready'].includes(n.dataset.status))
                        """)
                    try await browser.wait("the live connection", until: "return document.getElementById('connection').dataset.state === 'live'")
                    // Levels left to right: plan first, report last.
                    let order = try await browser.run("return [...document.querySelectorAll('#dag [data-node]')].map(n => n.dataset.node).join(',')")
                    #expect(order.stringValue?.hasPrefix("plan,") == true && order.stringValue?.hasSuffix(",report") == true, "\(order)")
                    _ = try await RelayHarness.withScheduler(db.url) { try await allSucceeded(browser, count: 6) }
                    // Node detail on click: input and output from the API.
                    try await browser.run("document.querySelector('#dag [data-node=\"plan\"]').dispatchEvent(new MouseEvent('click'))")
                    do {
                        try await browser.wait("the node detail", until: "return document.getElementById('node-detail').innerText.includes('Output')")
                    } catch {
                        let shown = try await browser.run("return document.getElementById('node-detail').innerText")
                        Issue.record("node detail shows: \(shown)")
                        throw error
                    }
                    let timeline = try await browser.run("return document.querySelectorAll('#timeline .lane').length")
                    #expect(timeline.doubleValue ?? 0 >= 5, "\(timeline)")
                    try await browser.screenshot(to: Self.screenshots.appending(path: "run-page.png"))
                } catch {
                    await browser.quit()
                    throw error
                }
                await browser.quit()
            }
        }
    }

    @Test func anApprovalDecidedInTheInboxLetsTheRunFinish() async throws {
        try await TestDatabase.withMigrated { db in
            let run = try await db.withConnection { conn in
                _ = try await Seeder(connection: conn).load(as: "admin")
                _ = try await PrincipalStore(connection: conn).create("author", as: "admin")
                _ = try await PrincipalStore(connection: conn).grant("run", on: "human-approval", to: "author", as: "admin")
                return try await RunStore(connection: conn).start("human-approval", input: #"{"version": "1.0", "notes": "n"}"#, as: "author").runID
            }
            try await RelayHarness.with(db.url) { relay in
                let admin = try await relay.token(for: "admin")
                _ = try await RelayHarness.withScheduler(db.url) {
                    try await waitUntil(timeout: .seconds(30), "the gate to open") {
                        try await db.withConnection { try await RunStore(connection: $0).run(run).status } == "waiting"
                    }
                    let browser = try await WebDriver()
                    do {
                        try await signIn(browser, base: relay.base, token: admin, then: "#/approvals")
                        try await browser.wait("the pending approval with its buttons", until: "return !!document.querySelector('#approvals [data-decide=\"approve\"]')")
                        try await browser.screenshot(to: Self.screenshots.appending(path: "approvals.png"))
                        // The run is named by its id's last eight digits: a v7 id's first
                        // eight are the same for every run of the same minute.
                        let shown = try await browser.run("return document.querySelector('#approvals a').textContent")
                        #expect(shown == .string(String(run.uuidString.lowercased().suffix(8))))
                        try await browser.run("document.querySelector('#approvals [data-decide=\"approve\"]').click()")
                        try await browser.wait("the inbox empty", until: "return !!document.getElementById('no-approvals')")
                        try await waitUntil(timeout: .seconds(30), "the run to finish") {
                            try await db.withConnection { try await RunStore(connection: $0).run(run).status } == "succeeded"
                        }
                        try await browser.run("location.hash = arguments[0]", [.string("#/runs/\(run.uuidString.lowercased())")])
                        try await allSucceeded(browser, count: 3)
                    } catch {
                        await browser.quit()
                        throw error
                    }
                    await browser.quit()
                }
            }
        }
    }

    /// A handler that asks once, then answers with what it was told.
    struct AskingHandler: NodeHandler {
        let name = "ask"
        func run(_ context: NodeContext) async throws -> HandlerOutput {
            if let answer = context.resume?["answer"]?.stringValue { return HandlerOutput(.object(["answer": .string(answer)])) }
            throw NodeNeedsInput(prompt: "Which colour?", resume: .object(["asked": .bool(true)]))
        }
    }

    @Test func aQuestionANodeAskedIsAnsweredInTheInbox() async throws {
        try await TestDatabase.withMigrated { db in
            let run = try await db.withConnection { conn in
                _ = try await WorkflowStore(connection: conn).publish(
                    definition: #"{"name": "asking", "nodes": [{"key": "question", "kind": "tool_call", "handler": "ask"}]}"#, as: "admin")
                return try await RunStore(connection: conn).start("asking", as: "admin").runID
            }
            var options = SchedulerOptions(name: "console-ask")
            options.pollInterval = .milliseconds(50)
            var registry = HandlerRegistry.builtIn
            registry.register(AskingHandler())
            let scheduler = Scheduler(databaseURL: db.url, registry: registry, options: options)
            let scheduling = Task { try await scheduler.run() }
            defer { scheduler.requestStop() }
            try await RelayHarness.with(db.url) { relay in
                let admin = try await relay.token(for: "admin")
                try await waitUntil(timeout: .seconds(30), "the question") {
                    try await db.withConnection { try await RunStore(connection: $0).run(run).status } == "waiting"
                }
                let browser = try await WebDriver()
                do {
                    try await signIn(browser, base: relay.base, token: admin, then: "#/approvals")
                    try await browser.wait("the question with its answer box", until: "return !!document.querySelector('#approvals [data-answer]')")
                    try await browser.run("document.querySelector('#approvals [data-answer]').value = 'blue'")
                    try await browser.run("document.querySelector('#approvals [data-decide=\"answer\"]').click()")
                    try await browser.wait("the inbox empty", until: "return !!document.getElementById('no-approvals')")
                } catch {
                    await browser.quit()
                    throw error
                }
                await browser.quit()
            }
            try await waitUntil(timeout: .seconds(30), "the run to finish") {
                try await db.withConnection { try await RunStore(connection: $0).run(run).status } == "succeeded"
            }
            let node = try await db.withConnection { try await RunStore(connection: $0).nodes(of: run) }.first
            #expect(try node?.output?.decode(JSONValue.self) == .object(["answer": .string("blue")]))
            scheduler.requestStop()
            _ = try await scheduling.value
        }
    }

    @Test func aRelayKilledMidRunLeavesThePageCaughtUpWithNothingMissing() async throws {
        try await TestDatabase.withMigrated { db in
            // start → five slow branches → finish: long enough to cut the relay in the middle.
            let branches = (1...5).map { #"{"key": "slow\#($0)", "kind": "tool_call", "handler": "sleep", "config": {"ms": 1500}}"# }
            let edges = (1...5).flatMap { [#"{"from": "start", "to": "slow\#($0)"}"#, #"{"from": "slow\#($0)", "to": "finish"}"#] }
            let definition = #"{"name": "slow-fan", "nodes": [{"key": "start", "kind": "tool_call", "handler": "echo"}, \#(branches.joined(separator: ", ")), {"key": "gather", "kind": "join", "mode": "all"}, {"key": "finish", "kind": "tool_call", "handler": "echo"}], "edges": [\#(edges.joined(separator: ", ").replacingOccurrences(of: #""to": "finish""#, with: #""to": "gather""#)), {"from": "gather", "to": "finish"}]}"#
            let (run, token) = try await db.withConnection { conn in
                _ = try await WorkflowStore(connection: conn).publish(definition: definition, as: "admin")
                let run = try await RunStore(connection: conn).start("slow-fan", as: "admin").runID
                return (run, try await TokenStore(connection: conn).create(for: "admin", as: "admin").token)
            }
            let port = try LocalCluster.freePort()
            let environment = ["TRELLIS_DATABASE_URL": db.url]
            func startRelay() async throws -> BackgroundProcess {
                let relay = try BackgroundProcess(trellis: ["relay", "--port", "\(port)"], environment: environment)
                try await waitUntil(timeout: .seconds(30), "the relay on port \(port)") { relay.output.contains("relay listening") }
                return relay
            }
            var relay = try await startRelay()
            let browser = try await WebDriver()
            do {
                try await signIn(browser, base: "http://127.0.0.1:\(port)", token: token, then: "#/runs/\(run.uuidString.lowercased())")
                try await browser.wait("the live connection", until: "return document.getElementById('connection').dataset.state === 'live'")
                _ = try await RelayHarness.withScheduler(db.url) {
                    try await browser.wait("the slow branches running on the page", until: """
                        return [...document.querySelectorAll('#dag [data-node^="slow"]')].some(n => n.dataset.status === 'running')
                        """)
                    relay.stop(SIGKILL)
                    try await browser.wait("the page to notice", until: "return document.getElementById('connection').dataset.state !== 'live'")
                    try await waitUntil(timeout: .seconds(60), "the run to finish while the relay is down") {
                        try await db.withConnection { try await RunStore(connection: $0).run(run).status } == "succeeded"
                    }
                }
                let during = try await browser.run(Self.nodeStatuses)
                #expect(during.stringValue?.contains("finish=succeeded") == false, "the page could not have seen the end: \(during)")
                relay = try await startRelay()
                try await allSucceeded(browser, count: 8)
                try await browser.wait("the connection live again", until: "return document.getElementById('connection').dataset.state === 'live'")
            } catch {
                await browser.quit()
                relay.stop()
                throw error
            }
            await browser.quit()
            relay.stop()
        }
    }

    @Test func aViewOnlyTokenGetsNoControlsAndAForcedRequestIsRefused() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.seedWithViewer("watcher")
            try await RelayHarness.with(db.url) { relay in
                let (admin, run) = try await relay.startFanOut()
                let watcher = try await relay.token(for: "watcher")
                // The admin sees the controls on the same (queued) run.
                let browser = try await WebDriver()
                do {
                    try await signIn(browser, base: relay.base, token: admin, then: "#/runs/\(run)")
                    try await browser.wait("the admin's controls", until: "return !!document.querySelector('#controls [data-control=\"cancel\"]')")
                    try await browser.run("document.getElementById('sign-out').click()")
                    try await signIn(browser, base: relay.base, token: watcher, then: "#/runs/\(run)")
                    try await browser.wait("the DAG", until: "return document.querySelectorAll('#dag [data-node]').length === 6")
                    let buttons = try await browser.run("return document.querySelectorAll('#controls button').length")
                    #expect(buttons == .number(0), "a view-only token sees controls: \(buttons)")
                    try await browser.run("""
                        window.__forced = null;
                        fetch('/v1/runs/' + arguments[0] + '/cancel', { method: 'POST', headers: { Authorization: 'Bearer ' + sessionStorage.getItem('trellis.token') } })
                          .then(r => r.json().then(b => { window.__forced = r.status + ' ' + b.error.code; }));
                        """, [.string(run)])
                    try await browser.wait("the forced cancel answered", until: "return window.__forced !== null")
                    let answer = try await browser.run("return window.__forced")
                    #expect(answer == .string("403 forbidden"), "\(answer)")
                    let status = try await PGConnection.withConnection(db.url) { try await RunStore(connection: $0).run(UUID(uuidString: run)!).status }
                    #expect(status == "queued")
                    try await browser.screenshot(to: Self.screenshots.appending(path: "view-only.png"))
                } catch {
                    await browser.quit()
                    throw error
                }
                await browser.quit()
            }
        }
    }
}
