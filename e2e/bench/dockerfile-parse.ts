/**
 * Parse speed of @paas/dockerfile on a realistic 1,000-line Dockerfile (multi-stage, long RUN
 * continuations, heredocs, ENV/LABEL pairs, JSON forms). Budget: under 5 ms per parse.
 *
 *   node --import tsx e2e/bench/dockerfile-parse.ts [RUNS]
 *
 * Prints one JSON line: lines, runs, median and p95 milliseconds for parse and for
 * parse + instructions (typed layer with substitution).
 */
import { instructions, parse } from '@paas/dockerfile';

function generate(targetLines: number): string {
  const out: string[] = ['# syntax=docker/dockerfile:1', 'ARG NODE_VERSION=20', 'ARG ALPINE=3.19'];
  let stage = 0;
  // Whole stages (about 40 lines each) while they fit, then one-line RUNs to the exact count.
  while (out.length + 45 <= targetLines) {
    const name = `stage${stage}`;
    out.push('', `FROM --platform=$BUILDPLATFORM node:\${NODE_VERSION}-alpine\${ALPINE} AS ${name}`);
    out.push(
      'ARG NODE_VERSION',
      `LABEL org.opencontainers.image.title="${name}" version="1.0" maintainer="dev@example.com"`,
    );
    out.push('ENV NODE_ENV=production PATH=/app/node_modules/.bin:$PATH APP_HOME=/app');
    out.push('WORKDIR $APP_HOME', '# install system packages');
    out.push('RUN --mount=type=cache,target=/var/cache/apk,sharing=locked \\');
    for (const pkg of ['ca-certificates', 'curl', 'git', 'openssh-client', 'python3', 'make', 'g++', 'tzdata']) {
      out.push(`    apk add --no-cache ${pkg} && \\`);
    }
    out.push('    rm -rf /tmp/*');
    out.push('COPY --link --chown=node:node package.json package-lock.json ./');
    out.push('RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev');
    out.push('COPY --from=builder --chmod=0755 /out/bin/ /usr/local/bin/');
    out.push('RUN <<-EOF', '\tset -eux', '\tnpm run build', '\tnpm prune --production', 'EOF');
    out.push('COPY <<EOF /etc/app.conf', 'listen=${PORT:-8080}', 'home=$APP_HOME', 'EOF');
    out.push('EXPOSE 8080/tcp 9090', 'VOLUME ["/data", "/logs"]', 'USER node:node');
    out.push(
      'HEALTHCHECK --interval=30s --timeout=3s --retries=3 CMD curl -fsS http://localhost:8080/health || exit 1',
    );
    out.push(
      'STOPSIGNAL SIGTERM',
      'ONBUILD COPY . /app/src',
      'ENTRYPOINT ["docker-entrypoint.sh"]',
      'CMD ["node", "dist/main.js"]',
    );
    stage++;
  }
  while (out.length < targetLines) out.push(`RUN echo "line ${out.length + 1}" >> /tmp/log`);
  return out.join('\n') + '\n';
}

function stats(samples: number[]): { median: number; p95: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number): number =>
    Number((sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0).toFixed(3));
  return { median: at(0.5), p95: at(0.95) };
}

function main(): void {
  const runs = Number(process.argv[2] ?? 200);
  const text = generate(1000);
  const lines = text.split('\n').length - 1;
  for (let i = 0; i < 50; i++) instructions(parse(text)); // warm-up: let the JIT settle
  const parseTimes: number[] = [];
  const typedTimes: number[] = [];
  for (let i = 0; i < runs; i++) {
    let t = performance.now();
    const tree = parse(text);
    parseTimes.push(performance.now() - t);
    t = performance.now();
    instructions(tree, { builtinArgs: { BUILDPLATFORM: 'linux/amd64' } });
    typedTimes.push(performance.now() - t);
  }
  const parseStats = stats(parseTimes);
  const typed = stats(parseTimes.map((p, i) => p + (typedTimes[i] ?? 0)));
  console.log(
    JSON.stringify({
      lines,
      runs,
      parseMedianMs: parseStats.median,
      parseP95Ms: parseStats.p95,
      parseAndInstructionsMedianMs: typed.median,
      parseAndInstructionsP95Ms: typed.p95,
    }),
  );
}

main();
