package org.linkloom.sdk;

import java.nio.charset.StandardCharsets;
import java.security.InvalidKeyException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * The signature of requests to backends (loom-workflow(5), SIGNING): with
 * {@code signing: {secretEnv: NAME}}, loom-exec sends
 *
 * <pre>
 * X-Loom-Timestamp: 1764130000
 * X-Loom-Signature: v1=&lt;hex HMAC-SHA256(secret, timestamp "." body)&gt;
 * </pre>
 *
 * A backend recomputes it over the raw body before parsing it, compares in
 * constant time, and refuses a timestamp more than five minutes from its
 * clock so a captured request cannot be replayed later.
 */
public final class Signature {
    /** The replay window advised, in seconds. */
    public static final long MAX_SKEW_SECONDS = 300;
    /** The timestamp header. */
    public static final String TIMESTAMP_HEADER = "X-Loom-Timestamp";
    /** The signature header. */
    public static final String SIGNATURE_HEADER = "X-Loom-Signature";

    private Signature() {
    }

    /**
     * @param key the key
     * @param data the data
     * @return the lower-case hex HMAC-SHA256 of data under key
     */
    public static String hmacSha256Hex(byte[] key, byte[] data) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            // An empty key is legal for HMAC but not for SecretKeySpec; a
            // key is padded with zero bytes, so one zero byte is the same.
            mac.init(new SecretKeySpec(key.length == 0 ? new byte[1] : key, "HmacSHA256"));
            byte[] out = mac.doFinal(data);
            StringBuilder b = new StringBuilder(64);
            for (byte x : out) {
                b.append(Character.forDigit((x >> 4) & 0xf, 16)).append(Character.forDigit(x & 0xf, 16));
            }
            return b.toString();
        } catch (NoSuchAlgorithmException | InvalidKeyException e) {
            throw new IllegalStateException("HmacSHA256 is not available", e);
        }
    }

    /**
     * The X-Loom-Signature value of body sent at timestamp.
     *
     * @param secret the shared secret
     * @param timestamp the X-Loom-Timestamp header, as written
     * @param body the body exactly as sent
     * @return "v1=" and 64 hex digits
     */
    public static String sign(byte[] secret, String timestamp, byte[] body) {
        byte[] ts = (timestamp + ".").getBytes(StandardCharsets.UTF_8);
        byte[] msg = new byte[ts.length + body.length];
        System.arraycopy(ts, 0, msg, 0, ts.length);
        System.arraycopy(body, 0, msg, ts.length, body.length);
        return "v1=" + hmacSha256Hex(secret, msg);
    }

    /**
     * Checks a request's signature.
     *
     * @param secret the shared secret
     * @param timestamp the X-Loom-Timestamp header (may be null)
     * @param signature the X-Loom-Signature header (may be null)
     * @param body the raw body
     * @param nowSeconds the current Unix time
     * @param maxSkewSeconds the replay window (negative: not checked)
     * @return true when the signature is body's at timestamp under secret
     *     and timestamp is within the window
     */
    public static boolean verify(byte[] secret, String timestamp, String signature, byte[] body,
            long nowSeconds, long maxSkewSeconds) {
        if (timestamp == null || signature == null || signature.length() != 67
                || !timestamp.matches("[0-9]{1,19}")) {
            return false;
        }
        long ts;
        try {
            ts = Long.parseLong(timestamp);
        } catch (NumberFormatException e) {
            return false;
        }
        if (maxSkewSeconds >= 0 && Math.abs(nowSeconds - ts) > maxSkewSeconds) {
            return false;
        }
        String want = sign(secret, timestamp, body);
        return MessageDigest.isEqual(want.getBytes(StandardCharsets.US_ASCII),
                signature.getBytes(StandardCharsets.US_ASCII));
    }

    /**
     * {@link #verify} against the clock with the advised window.
     *
     * @param secret the shared secret
     * @param timestamp the X-Loom-Timestamp header
     * @param signature the X-Loom-Signature header
     * @param body the raw body
     * @return whether the request is signed and fresh
     */
    public static boolean verify(byte[] secret, String timestamp, String signature, byte[] body) {
        return verify(secret, timestamp, signature, body, System.currentTimeMillis() / 1000,
                MAX_SKEW_SECONDS);
    }
}
