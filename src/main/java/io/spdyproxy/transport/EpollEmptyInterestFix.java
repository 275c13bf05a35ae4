package io.spdyproxy.transport;

import io.netty.channel.IoHandle;
import io.netty.channel.IoHandler;
import io.netty.channel.IoHandlerContext;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.IoOps;
import io.netty.channel.IoRegistration;
import io.netty.channel.epoll.EpollIoOps;
import io.netty.util.concurrent.ThreadAwareExecutor;

/**
 * Works around a bug of Netty 4.2.18's epoll transport that cut answers short for clients that
 * half-close. When a channel's interest set becomes empty, {@code EpollIoHandler} removes its fd
 * from the epoll set (EPOLL_CTL_DEL) but keeps taking it for added, so the next interest is an
 * EPOLL_CTL_MOD that fails with ENOENT. A half-closed channel gets there as soon as it has nothing
 * to read (input shut down, EPOLLRDHUP cleared) and nothing waiting to be written; its next write
 * that does not fit the socket buffer then needs EPOLLOUT, fails with an UncheckedIOException,
 * and Netty shuts the output down, failing every queued write.
 *
 * <p>Here an empty set, once the fd was added, is submitted as EPOLLET alone: the fd stays in the
 * set with no interest, so the next interest is a MOD that works, and being edge-triggered it
 * reports the always-on EPOLLHUP/EPOLLERR once instead of waking the loop again and again (the
 * reason Netty removes it). Remove this class when the Netty in use re-adds a removed fd.
 *
 * <p>Threading: a registration is changed on its channel's event loop only, as Netty does.
 */
final class EpollEmptyInterestFix implements IoHandlerFactory {
    private final IoHandlerFactory epoll;

    EpollEmptyInterestFix(IoHandlerFactory epoll) {
        this.epoll = epoll;
    }

    @Override
    public IoHandler newHandler(ThreadAwareExecutor executor) {
        IoHandler handler = epoll.newHandler(executor);
        return new IoHandler() {
            @Override
            public void initialize() {
                handler.initialize();
            }

            @Override
            public int run(IoHandlerContext context) {
                return handler.run(context);
            }

            @Override
            public void prepareToDestroy() {
                handler.prepareToDestroy();
            }

            @Override
            public void destroy() {
                handler.destroy();
            }

            @Override
            public IoRegistration register(IoHandle handle) throws Exception {
                return new KeptRegistration(handler.register(handle));
            }

            @Override
            public void wakeup() {
                handler.wakeup();
            }

            @Override
            public boolean isCompatible(Class<? extends IoHandle> handleType) {
                return handler.isCompatible(handleType);
            }
        };
    }

    @Override
    public boolean isChangingThreadSupported() {
        return epoll.isChangingThreadSupported();
    }

    private static final class KeptRegistration implements IoRegistration {
        private final IoRegistration registration;
        /** The fd is in the epoll set: an empty interest set must not take it out. */
        private boolean added;

        KeptRegistration(IoRegistration registration) {
            this.registration = registration;
        }

        @Override
        public <T> T attachment() {
            return registration.attachment();
        }

        @Override
        public long submit(IoOps ops) {
            boolean empty = ((EpollIoOps) ops).value() == EpollIoOps.NONE.value();
            if (empty && added) {
                return registration.submit(EpollIoOps.EPOLLET);
            }
            long result = registration.submit(ops);
            if (!empty && result >= 0) {
                added = true;
            }
            return result;
        }

        @Override
        public boolean isValid() {
            return registration.isValid();
        }

        @Override
        public boolean cancel() {
            return registration.cancel();
        }
    }
}
