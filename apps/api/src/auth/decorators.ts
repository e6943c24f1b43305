import { SetMetadata } from '@nestjs/common';

export const PUBLIC_ROUTE = 'paas:public';
export const ADMIN_ROUTE = 'paas:admin';

/** A route anyone may call without a token (health; the git receiver does its own auth). */
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(PUBLIC_ROUTE, true);

/** A route only admin tokens may call (tokens, node management). */
export const AdminOnly = (): MethodDecorator & ClassDecorator => SetMetadata(ADMIN_ROUTE, true);
