import { SetMetadata } from '@nestjs/common';

export const PUBLIC_ROUTE = 'paas:public';
export const ADMIN_ROUTE = 'paas:admin';
export const NODE_ROUTE = 'paas:node';
export const JOIN_ROUTE = 'paas:join';

/** A route anyone may call without a token (health; the git receiver does its own auth). */
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(PUBLIC_ROUTE, true);

/** A route only admin tokens may call (tokens, node management). */
export const AdminOnly = (): MethodDecorator & ClassDecorator => SetMetadata(ADMIN_ROUTE, true);

/**
 * A route agents call (register, heartbeat, logs, events): node tokens and admin tokens may. Every route
 * without it is closed to node tokens, so a new route never opens to agents by accident.
 */
export const ForNodes = (): MethodDecorator & ClassDecorator => SetMetadata(NODE_ROUTE, true);

/**
 * `POST /api/nodes/join`: a join token (checked, used and spent by the route itself, in one
 * transaction) or an admin token may call it, and a join token reaches nothing else.
 */
export const ForJoining = (): MethodDecorator & ClassDecorator => SetMetadata(JOIN_ROUTE, true);
