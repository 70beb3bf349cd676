import Foundation
import Testing

@testable import Gateway

/// The chat page and its assets are served from the binary with a strict Content-Security-Policy.
@Suite("Web UI assets")
struct UITests {
    @Test func thePageAndItsAssetsAreServedWithAStrictPolicy() async throws {
        var options = TestStack.Options()
        options.workers = 0
        try await TestStack.run(options) { stack in
            let page = try await stack.request(.get, "/")
            #expect(page.status == .ok)
            #expect(page.headers[.contentType]?.hasPrefix("text/html") == true)
            let policy = try #require(page.headers[.contentSecurityPolicy])
            #expect(policy.contains("script-src 'self'") && !policy.contains("unsafe-inline"))
            let html = String(buffer: page.body)
            #expect(html.contains(#"src="/app.js""#))
            #expect(html.contains(#"href="/style.css""#))
            // Every script is a file of this origin: nothing inline that the policy would have to allow.
            #expect(!html.contains("<script>") && !html.contains("onclick="))
            let console = try await stack.request(.get, "/console")
            #expect(console.status == .ok)
            #expect(console.headers[.contentSecurityPolicy] == policy)
            let consoleHTML = String(buffer: console.body)
            #expect(consoleHTML.contains(#"src="/console.js""#) && !consoleHTML.contains("<script>"))
            for (path, type) in [
                ("/app.js", "text/javascript"), ("/dom.js", "text/javascript"), ("/console.js", "text/javascript"), ("/style.css", "text/css"),
            ] {
                let asset = try await stack.request(.get, path)
                #expect(asset.status == .ok)
                #expect(asset.headers[.contentType]?.hasPrefix(type) == true)
                #expect(asset.body.readableBytes > 100)
            }
        }
    }
}
