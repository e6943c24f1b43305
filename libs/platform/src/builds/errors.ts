/**
 * A build that failed because of the app itself: its Dockerfile, Procfile, app.json, a RUN
 * step, its release command. Retrying cannot help, so the queue does not retry it, and the
 * message is shown to the pusher as it is: it must say what is wrong and where.
 */
import { PaasError } from '@paas/errors';
export class AppBuildError extends PaasError {
  constructor(message: string) {
    super('unprocessable', message);
  }
}
