import Testing
import WSClient
@Test func placeholder() {}
import AsyncHTTPClient
import HummingbirdTesting
