package org.linkloom.sdk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.util.Map;
import org.junit.jupiter.api.Test;

class LoomExceptionTest {
    @Test
    void anApiError() {
        LoomException e = LoomException.fromResponse(404,
                "{\"error\":{\"code\":\"not_found\",\"message\":\"no workflow 'x'\",\"field\":\"id\"}}");
        assertEquals(404, e.status());
        assertEquals("not_found", e.code());
        assertEquals("id", e.field());
        assertEquals("no workflow 'x'", e.getMessage());
    }

    @Test
    void detailsOfAnInvalidWorkflow() {
        LoomException e = LoomException.fromResponse(422, "{\"error\":{\"code\":\"invalid_workflow\","
                + "\"message\":\"1 error\",\"field\":null,\"details\":[{\"line\":7,\"message\":\"m\"}]}}");
        assertEquals("invalid_workflow", e.code());
        assertNull(e.field());
        assertEquals(7L, ((Map<?, ?>) e.details().get(0)).get("line"));
    }

    @Test
    void aBodyThatIsNotAnApiError() {
        LoomException e = LoomException.fromResponse(502, "Bad Gateway");
        assertEquals(502, e.status());
        assertNull(e.code());
        assertEquals("HTTP 502: Bad Gateway", e.getMessage());
        assertEquals("HTTP 503", LoomException.fromResponse(503, "").getMessage());
        assertEquals("HTTP 500: {\"x\":1}", LoomException.fromResponse(500, "{\"x\":1}").getMessage());
    }

    @Test
    void nothingListening() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket()) {
            s.bind(new InetSocketAddress("127.0.0.1", 0));
            port = s.getLocalPort();
        }
        LoomClient c = LoomClient.builder("http://127.0.0.1:" + port).build();
        LoomException e = assertThrows(LoomException.class, c::listWorkflows);
        assertEquals(0, e.status());
        assertNull(e.code());
        assertTrue(e.getCause() instanceof java.net.ConnectException, String.valueOf(e.getCause()));
    }

    @Test
    void aUnixSocketIsRefusedAtOnce() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> LoomClient.builder("unix:/run/loom/api.sock").build());
        assertTrue(e.getMessage().contains("Unix socket"));
        assertThrows(IllegalArgumentException.class, () -> LoomClient.builder("ftp://x").build());
    }

    @Test
    void escaping() {
        assertEquals("a%20b%2Fc~d.e_f-g%C3%A9", LoomClient.escape("a b/c~d.e_f-g\u00e9"));
    }
}
