/**
 * A build that failed because of the app itself: its Dockerfile, Procfile, app.json, a RUN
 * step, its release command. Retrying cannot help, so the queue does not retry it, and the
 * message is shown to the pusher as it is: it must say what is wrong and where.
 */
export class AppBuildError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AppBuildError';
  }
}
