import { Controller, Get, Inject, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiParam, ApiProduces, ApiTags } from '@nestjs/swagger';
import { type App, type LogEntry, appLogKey, followLog, logCursor, tailLog } from '@paas/platform';
import type { Redis } from 'ioredis';
import type { ServerResponse } from 'node:http';
import { EventStream } from '../common/event-stream';
import { CurrentApp } from '../common/request';
import { ValidQuery } from '../common/validation';
import { REDIS } from '../core/tokens';
import { LogsQueryDto } from './logs.dto';

const DEFAULT_TAIL = 100;

/** The app's log: platform events (`api`, `build`...) and, with the scheduler, its instances' output. */
@ApiTags('logs')
@ApiBearerAuth()
@ApiParam({ name: 'app', type: String, description: 'app name or id' })
@Controller('apps/:app/logs')
export class LogsController {
  constructor(@Inject(REDIS) private readonly redis: Redis) {}

  @Get()
  @ApiProduces('text/event-stream')
  @ApiOkResponse({ description: 'one event per line: `data: {"t","source","line"}`' })
  async stream(
    @CurrentApp() app: App,
    @ValidQuery(LogsQueryDto) query: LogsQueryDto,
    @Res() res: ServerResponse,
  ): Promise<void> {
    const key = appLogKey(app.id);
    const tail = query.tail ?? DEFAULT_TAIL;
    const past = tail > 0 ? await tailLog(this.redis, key, tail) : [];
    // where following starts is settled before the answer's headers: a line written once the
    // client has them is always sent
    const cursor = past.at(-1)?.id ?? (await logCursor(this.redis, key));
    const events = new EventStream(res);
    const send = (entry: LogEntry): void =>
      events.send(JSON.stringify({ t: entry.t, source: entry.source, line: entry.line }), { id: entry.id });
    try {
      past.forEach(send);
      if (query.follow === '1' || query.follow === 'true') {
        for await (const entry of followLog(this.redis, key, cursor, events.signal)) send(entry);
      }
    } finally {
      events.end();
    }
  }
}
