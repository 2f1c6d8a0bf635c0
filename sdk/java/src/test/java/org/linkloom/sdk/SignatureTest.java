package org.linkloom.sdk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Map;
import org.junit.jupiter.api.Test;

class SignatureTest {
    private static byte[] rep(int b, int n) {
        byte[] a = new byte[n];
        Arrays.fill(a, (byte) b);
        return a;
    }

    private static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }

    /** RFC 4231, the seven test cases of HMAC-SHA256. */
    @Test
    void rfc4231() {
        assertEquals("b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
                Signature.hmacSha256Hex(rep(0x0b, 20), ascii("Hi There")));
        assertEquals("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
                Signature.hmacSha256Hex(ascii("Jefe"), ascii("what do ya want for nothing?")));
        assertEquals("773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
                Signature.hmacSha256Hex(rep(0xaa, 20), rep(0xdd, 50)));
        byte[] k4 = new byte[25];
        for (int i = 0; i < 25; i++) {
            k4[i] = (byte) (i + 1);
        }
        assertEquals("82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
                Signature.hmacSha256Hex(k4, rep(0xcd, 50)));
        assertTrue(Signature.hmacSha256Hex(rep(0x0c, 20), ascii("Test With Truncation"))
                .startsWith("a3b6167473100ee06e0c796c2955552b"));
        assertEquals("60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
                Signature.hmacSha256Hex(rep(0xaa, 131),
                        ascii("Test Using Larger Than Block-Size Key - Hash Key First")));
        // case 7 as a signature: timestamp "." body is its data
        assertEquals("v1=9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
                Signature.sign(rep(0xaa, 131), "This is a test using a larger than block-size key"
                        + " and a larger than block-size data",
                        ascii(" The key needs to be hashed before being used by the HMAC algorithm.")));
    }

    @Test
    void emptyKeyIsZeroPadded() {
        // openssl dgst -sha256 -hmac '' of "" (HMAC with an empty key)
        assertEquals("b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad",
                Signature.hmacSha256Hex(new byte[0], new byte[0]));
    }

    static Map<String, Object> captured() throws IOException {
        try (InputStream in = SignatureTest.class.getResourceAsStream("/loom-exec-signed.json")) {
            return Json.parseObject(new String(in.readAllBytes(), StandardCharsets.UTF_8));
        }
    }

    /** A request loom-exec signed (captured from a real `loom run`). */
    @Test
    void loomExecSignature() throws IOException {
        Map<String, Object> f = captured();
        byte[] secret = ((String) f.get("secret")).getBytes(StandardCharsets.UTF_8);
        String ts = (String) f.get("timestamp");
        String sig = (String) f.get("signature");
        byte[] body = ((String) f.get("body")).getBytes(StandardCharsets.UTF_8);
        long now = Long.parseLong(ts);

        assertEquals(sig, Signature.sign(secret, ts, body));
        assertTrue(Signature.verify(secret, ts, sig, body, now + 10, Signature.MAX_SKEW_SECONDS));
        assertFalse(Signature.verify(secret, ts, sig, body, now + 301, 300), "replayed later");
        assertFalse(Signature.verify(secret, ts, sig, body, now - 301, 300), "from the future");
        assertTrue(Signature.verify(secret, ts, sig, body, now + 100000, -1), "no window");
        assertFalse(Signature.verify(ascii("other"), ts, sig, body, now, 300), "another secret");
        byte[] changed = body.clone();
        changed[changed.length - 2] ^= 1;
        assertFalse(Signature.verify(secret, ts, sig, changed, now, 300), "a changed body");
        assertFalse(Signature.verify(secret, String.valueOf(now + 1), sig, body, now, 300),
                "another timestamp");
        assertFalse(Signature.verify(secret, null, sig, body, now, 300), "no timestamp");
        assertFalse(Signature.verify(secret, ts, null, body, now, 300), "no signature");
        assertFalse(Signature.verify(secret, ts, "v1=00", body, now, 300), "a short one");
        assertFalse(Signature.verify(secret, "-5", sig, body, now, 300), "a negative time");
        String fresh = String.valueOf(System.currentTimeMillis() / 1000);
        assertTrue(Signature.verify(secret, fresh, Signature.sign(secret, fresh, body), body),
                "signed now, against the clock");
        String old = String.valueOf(System.currentTimeMillis() / 1000 - 3600);
        assertFalse(Signature.verify(secret, old, Signature.sign(secret, old, body), body),
                "signed an hour ago, against the clock");
    }
}
