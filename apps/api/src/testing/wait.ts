// the api's specs wait as the platform's do
export { waitFor } from '@paas/platform/testing';
