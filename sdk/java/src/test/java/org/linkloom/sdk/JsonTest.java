package org.linkloom.sdk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.math.BigInteger;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class JsonTest {
    @Test
    void readsEveryKind() {
        Map<String, Object> m = Json.parseObject(
                " {\"s\":\"a\\\"\\u00e9\\n\",\"n\":-12,\"d\":1.5e2,\"t\":true,\"f\":false,"
                + "\"z\":null,\"a\":[1,[],{}],\"big\":123456789012345678901234567890} ");
        assertEquals("a\"\u00e9\n", m.get("s"));
        assertEquals(-12L, m.get("n"));
        assertEquals(150.0, m.get("d"));
        assertEquals(true, m.get("t"));
        assertEquals(false, m.get("f"));
        assertEquals(null, m.get("z"));
        assertEquals(List.of(1L, List.of(), Map.of()), m.get("a"));
        assertEquals(new BigInteger("123456789012345678901234567890"), m.get("big"));
        assertEquals(List.of("s", "n", "d", "t", "f", "z", "a", "big"), List.copyOf(m.keySet()),
                "the document's order");
    }

    @Test
    void writesCompactAndReadsBack() {
        Map<String, Object> m = Json.object("b", 1, "a", List.of("x\ty", 2.5, true),
                "n", null, "o", Map.of(), "arr", new Object[] {1L});
        String s = Json.write(m);
        assertEquals("{\"b\":1,\"a\":[\"x\\ty\",2.5,true],\"n\":null,\"o\":{},\"arr\":[1]}", s);
        assertEquals(Json.parse(s), Json.parse(Json.write(Json.parse(s))));
        assertEquals("\"\\u0001\"", Json.write("\u0001"));
        assertEquals("3", Json.write(3.0));
    }

    @Test
    void refusesWhatIsNotJson() {
        for (String bad : Arrays.asList("", "{", "[1,]", "{\"a\" 1}", "01", "1.", "tru", "\"a",
                "{\"a\":1}x", "\"\t\"", "nul", "[1 2]", "\"\\x\"")) {
            assertThrows(IllegalArgumentException.class, () -> Json.parse(bad), bad);
        }
        assertThrows(IllegalArgumentException.class, () -> Json.parseObject("[1]"));
        assertThrows(IllegalArgumentException.class, () -> Json.write(new Object()));
        assertThrows(IllegalArgumentException.class, () -> Json.parse("[".repeat(1000)));
    }
}
