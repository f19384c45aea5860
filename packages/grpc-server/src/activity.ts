// Tells the daemon when calls start, move messages and finish (it releases memory once
// they stop for a while). Called on every event, so `onActivity` must be O(1).
import { type ServerInterceptingCallInterface, ServerInterceptingCall, type ServerInterceptor } from '@grpc/grpc-js';

export function activityInterceptor(onActivity: () => void): ServerInterceptor {
  return (_method, call: ServerInterceptingCallInterface) => {
    onActivity();
    return new ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMessage: (message, forward) => {
            onActivity();
            forward(message);
          },
        }),
      sendMessage: (message, next) => {
        onActivity();
        next(message);
      },
      sendStatus: (status, next) => {
        onActivity();
        next(status);
      },
    });
  };
}
