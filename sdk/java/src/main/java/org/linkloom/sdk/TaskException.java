package org.linkloom.sdk;

/**
 * Thrown by a {@link TaskHandler}: the task FAILED with this error type
 * (an error class of loom-workflow(5), e.g. ValidationException).
 */
public class TaskException extends Exception {
    private static final long serialVersionUID = 1L;

    /** The error class. */
    private final String type;

    /**
     * @param type the error class
     * @param message why
     */
    public TaskException(String type, String message) {
        super(message);
        this.type = type;
    }

    /** @return the error class */
    public String type() {
        return type;
    }
}
