package io.spdyproxy.proxy.live;

import java.lang.reflect.InvocationHandler;
import java.lang.reflect.Proxy;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Turns SIGHUP into a call instead of the JVM's default (exit). Uses {@code sun.misc.Signal} from
 * the {@code jdk.unsupported} module, reached by reflection so that the compiler's warning about
 * internal API (which {@code -Werror} makes fatal) does not arise. Only the command-line entry
 * points install it; tests call the reload methods directly.
 *
 * <p>Threading: the JVM calls {@code onHangUp} on its own signal thread.
 */
public final class Sighup {
    private static final Logger log = LoggerFactory.getLogger(Sighup.class);

    private Sighup() {}

    /** Installs {@code onHangUp} as the SIGHUP handler; false (and a log line) when the JVM refuses. */
    public static boolean install(Runnable onHangUp) {
        try {
            Class<?> signal = Class.forName("sun.misc.Signal");
            Class<?> handler = Class.forName("sun.misc.SignalHandler");
            InvocationHandler call = (proxy, method, args) -> {
                if (method.getName().equals("handle")) {
                    try {
                        onHangUp.run();
                    } catch (RuntimeException e) {
                        log.warn("SIGHUP handler failed", e);
                    }
                    return null;
                }
                return method.getName().equals("toString") ? "SIGHUP handler" : method.invoke(onHangUp, args);
            };
            Object h = Proxy.newProxyInstance(Sighup.class.getClassLoader(), new Class<?>[] {handler}, call);
            Object hup = signal.getConstructor(String.class).newInstance("HUP");
            signal.getMethod("handle", signal, handler).invoke(null, hup, h);
            return true;
        } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
            // -Xrs, a platform without SIGHUP, or a JVM without jdk.unsupported.
            log.warn("cannot handle SIGHUP ({}); reload through the file watcher or the admin API", e.toString());
            return false;
        }
    }
}
