import Hummingbird
import NIOCore

/// The chat page (`/`), the operations console (`/console`) and their scripts and style sheet, embedded in the binary.
/// The chat page uses only the public REST and WebSocket API, the console only the admin API. A strict Content-Security-Policy allows scripts, styles and connections from this origin only, so
/// even a rendering mistake could not run injected script.
struct UIController: Sendable {
    static let securityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self' ws: wss:; "
        + "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

    func addRoutes(to router: Router<GatewayContext>) {
        router.get("/") { _, _ in Self.file(PackageResources.index_html, type: "text/html; charset=utf-8") }
        router.get("/app.js") { _, _ in Self.file(PackageResources.app_js, type: "text/javascript; charset=utf-8") }
        router.get("/style.css") { _, _ in Self.file(PackageResources.style_css, type: "text/css; charset=utf-8") }
        router.get("/dom.js") { _, _ in Self.file(PackageResources.dom_js, type: "text/javascript; charset=utf-8") }
        router.get("/console") { _, _ in Self.file(PackageResources.console_html, type: "text/html; charset=utf-8") }
        router.get("/console.js") { _, _ in Self.file(PackageResources.console_js, type: "text/javascript; charset=utf-8") }
    }

    private static func file(_ bytes: [UInt8], type: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = type
        headers[.cacheControl] = "no-cache"
        headers[.contentSecurityPolicy] = securityPolicy
        headers[.init("X-Content-Type-Options")!] = "nosniff"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}
