import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DockerfileError, type Instruction, instructions, type InstructionsOptions, parse } from './index';

const typed = (text: string, options?: InstructionsOptions) => instructions(parse(text), options);
function only(text: string, options?: InstructionsOptions): Instruction {
  const list = typed(`FROM scratch\n${text}\n`, options).stages[0]?.instructions ?? [];
  assert.equal(list.length, 1);
  return list[0] as Instruction;
}
/** Compares the instruction without its location and original text. */
function like(actual: Instruction, expected: Record<string, unknown>): void {
  const { location: _l, original: _o, ...rest } = actual;
  assert.deepEqual(rest, expected);
}

describe('instructions: each instruction', () => {
  it('FROM with platform and alias, and a stage reference', () => {
    const { stages } = typed('FROM --platform=linux/arm64 golang:1.22 AS Build\nFROM build\n');
    like(stages[0]?.from as Instruction, {
      kind: 'from',
      image: 'golang:1.22',
      platform: 'linux/arm64',
      alias: 'build',
    });
    assert.equal(stages[0]?.name, 'build');
    like(stages[1]?.from as Instruction, { kind: 'from', image: 'build', stage: 0 });
  });

  it('RUN shell and exec form, mounts, network, security, heredocs', () => {
    like(only('RUN echo $HOME'), { kind: 'run', command: { shell: 'echo $HOME' }, mounts: [], heredocs: [] });
    like(only('RUN ["echo", "$HOME"]'), {
      kind: 'run',
      command: { exec: ['echo', '$HOME'] },
      mounts: [],
      heredocs: [],
    });
    const run = only(
      'RUN --mount=type=cache,target=/root/.cache,sharing=locked,id=go --mount=type=secret,id=tok,env=TOKEN ' +
        '--mount=type=bind,from=build,source=/out,target=/in,rw --network=none --security=insecure make',
    );
    assert.equal(run.kind, 'run');
    if (run.kind !== 'run') return;
    assert.deepEqual(run.mounts, [
      { type: 'cache', readOnly: false, target: '/root/.cache', id: 'go', sharing: 'locked' },
      { type: 'secret', readOnly: true, id: 'tok', env: 'TOKEN' },
      { type: 'bind', readOnly: false, target: '/in', source: '/out', from: 'build' },
    ]);
    assert.equal(run.network, 'none');
    assert.equal(run.security, 'insecure');
    const heredoc = only('RUN <<-EOT bash\n\techo "$A"\n\tEOT');
    assert.deepEqual(heredoc.kind === 'run' && heredoc.heredocs, [
      { name: 'EOT', fileDescriptor: 0, expand: true, content: 'echo "$A"\n' },
    ]);
  });

  it('CMD and ENTRYPOINT keep text for the shell', () => {
    like(only('CMD ["nginx", "-g", "daemon off;"]'), {
      kind: 'cmd',
      command: { exec: ['nginx', '-g', 'daemon off;'] },
    });
    like(only('ENTRYPOINT exec $APP'), { kind: 'entrypoint', command: { shell: 'exec $APP' } });
    like(only('CMD []'), { kind: 'cmd', command: { exec: [] } });
  });

  it('ENV in both forms, quotes and escapes resolved', () => {
    like(only('ENV A=1 B="two words" C=three\\ words'), {
      kind: 'env',
      pairs: [
        { key: 'A', value: '1' },
        { key: 'B', value: 'two words' },
        { key: 'C', value: 'three words' },
      ],
    });
    like(only('ENV LEGACY some "quoted" value'), {
      kind: 'env',
      pairs: [{ key: 'LEGACY', value: 'some quoted value' }],
    });
  });

  it('ARG with and without default, and a build arg overriding it', () => {
    like(only('ARG A B=2'), { kind: 'arg', args: [{ key: 'A' }, { key: 'B', default: '2', value: '2' }] });
    like(only('ARG A=1', { buildArgs: { A: 'x' } }), { kind: 'arg', args: [{ key: 'A', default: '1', value: 'x' }] });
  });

  it('WORKDIR, USER, STOPSIGNAL, EXPOSE, VOLUME, LABEL, MAINTAINER', () => {
    like(only('WORKDIR /app'), { kind: 'workdir', path: '/app' });
    like(only('USER app:app'), { kind: 'user', user: 'app:app' });
    like(only('STOPSIGNAL SIGQUIT'), { kind: 'stopsignal', signal: 'SIGQUIT' });
    like(only('EXPOSE 80 443/tcp 53/udp 8000-8010'), {
      kind: 'expose',
      ports: ['80', '443/tcp', '53/udp', '8000-8010'],
    });
    like(only('VOLUME ["/data", "/logs"]'), { kind: 'volume', paths: ['/data', '/logs'] });
    like(only('VOLUME /data /logs'), { kind: 'volume', paths: ['/data', '/logs'] });
    like(only('LABEL a.b="c d" e=f'), {
      kind: 'label',
      pairs: [
        { key: 'a.b', value: 'c d' },
        { key: 'e', value: 'f' },
      ],
    });
    like(only('MAINTAINER Jane <jane@example.com>'), { kind: 'maintainer', maintainer: 'Jane <jane@example.com>' });
  });

  it('COPY and ADD with every flag', () => {
    like(
      only('COPY --from=build --chown=app:app --chmod=0644 --link --parents --exclude=*.md --exclude=x ./a b /dst/'),
      {
        kind: 'copy',
        sources: ['./a', 'b'],
        contents: [],
        dest: '/dst/',
        json: false,
        from: 'build',
        chown: 'app:app',
        chmod: '0644',
        link: true,
        parents: true,
        exclude: ['*.md', 'x'],
      },
    );
    const sum = 'sha256:' + 'a'.repeat(64);
    like(only(`ADD --checksum=${sum} --keep-git-dir=true --chmod=u+x ["https://x/y z", "/dst"]`), {
      kind: 'add',
      sources: ['https://x/y z'],
      contents: [],
      dest: '/dst',
      json: true,
      chmod: 'u+x',
      link: false,
      exclude: [],
      keepGitDir: true,
      checksum: sum,
    });
    like(only('COPY <<EOF /etc/conf\n\tkept tab $X\nEOF', {}), {
      kind: 'copy',
      sources: [],
      contents: [{ name: 'EOF', fileDescriptor: 0, expand: true, content: '\tkept tab \n' }],
      dest: '/etc/conf',
      json: false,
      link: false,
      parents: false,
      exclude: [],
    });
  });

  it('HEALTHCHECK NONE, CMD shell and exec, with every option', () => {
    like(only('HEALTHCHECK NONE'), { kind: 'healthcheck', test: ['NONE'] });
    like(
      only(
        'HEALTHCHECK --interval=30s --timeout=1m30s --start-period=5s --start-interval=500ms --retries=3 CMD curl -f x',
      ),
      {
        kind: 'healthcheck',
        test: ['CMD-SHELL', 'curl -f x'],
        interval: 30e9,
        timeout: 90e9,
        startPeriod: 5e9,
        startInterval: 500e6,
        retries: 3,
      },
    );
    like(only('HEALTHCHECK CMD ["true"]'), { kind: 'healthcheck', test: ['CMD', 'true'] });
  });

  it('SHELL (JSON) and ONBUILD (not substituted)', () => {
    like(only('SHELL ["powershell", "-command"]'), { kind: 'shell', shell: ['powershell', '-command'] });
    like(only('ONBUILD COPY --chown=$U . /app'), {
      kind: 'onbuild',
      expression: 'COPY --chown=$U . /app',
      trigger: 'COPY',
    });
    like(only('ONBUILD RUN <<EOF\nhi\nEOF'), { kind: 'onbuild', expression: 'RUN <<EOF\nhi\nEOF', trigger: 'RUN' });
  });
});

describe('instructions: substitution scope', () => {
  it('meta ARGs reach FROM only, unless redeclared', () => {
    const { metaArgs, stages } = typed('ARG TAG=1.0\nFROM img:$TAG\nWORKDIR /a$TAG\nARG TAG\nWORKDIR /b$TAG\n');
    assert.equal(metaArgs[0]?.args[0]?.value, '1.0');
    assert.equal(stages[0]?.from.image, 'img:1.0');
    const paths = stages[0]?.instructions.flatMap((i) => (i.kind === 'workdir' ? [i.path] : []));
    assert.deepEqual(paths, ['/a', '/b1.0']);
  });

  it('build args override meta and stage defaults, only when declared', () => {
    const { stages } = typed('ARG V=1\nFROM a:$V\nARG W=x\nENV W=$W U=$UNDECLARED\n', {
      buildArgs: { V: '2', W: 'y', UNDECLARED: 'z' },
    });
    assert.equal(stages[0]?.from.image, 'a:2');
    assert.deepEqual(stages[0]?.env, { W: 'y', U: '' });
  });

  it('ENV wins over ARG and applies from the next instruction on', () => {
    const { stages } = typed('FROM a\nARG X=arg\nENV X=env Y=$X\nENV Z=$X\n');
    assert.deepEqual(stages[0]?.env, { X: 'env', Y: 'arg', Z: 'env' });
  });

  it('ARG pairs see the ones before them; builtin args need a declaration in a stage', () => {
    const opts = { builtinArgs: { TARGETARCH: 'arm64' } };
    const { stages } = typed(
      'FROM --platform=$TARGETARCH a\nARG A=1 B=$A\nENV B=$B T=$TARGETARCH\nARG TARGETARCH\nENV U=$TARGETARCH\n',
      opts,
    );
    assert.equal(stages[0]?.from.platform, 'arm64');
    assert.deepEqual(stages[0]?.env, { B: '1', T: '', U: 'arm64' });
  });

  it('a stage built on another inherits its ENV; image ENV comes from the caller', () => {
    const { stages } = typed('FROM golang AS b\nENV A=1\nWORKDIR $GOPATH/src\nFROM b\nWORKDIR /x$A\n', {
      imageEnv: (from) => (from.image === 'golang' ? { GOPATH: '/go' } : undefined),
    });
    const dirs = stages.flatMap((s) => s.instructions.flatMap((i) => (i.kind === 'workdir' ? [i.path] : [])));
    assert.deepEqual(dirs, ['/go/src', '/x1']);
  });

  it('does not substitute RUN, CMD, ENTRYPOINT; substitutes COPY, LABEL, USER, VOLUME, EXPOSE, STOPSIGNAL', () => {
    const list =
      typed(
        'FROM a\nENV P=8080 U=app D=/data S=SIGTERM F=src\nRUN echo $P\nCMD $P\nENTRYPOINT $P\n' +
          'COPY --chown=$U $F /$F\nLABEL port=$P\nUSER $U\nVOLUME $D\nEXPOSE $P\nSTOPSIGNAL $S\n',
      ).stages[0]?.instructions ?? [];
    const pick = (kind: string) => list.find((i) => i.kind === kind);
    assert.deepEqual((pick('run') as { command: unknown }).command, { shell: 'echo $P' });
    assert.deepEqual((pick('cmd') as { command: unknown }).command, { shell: '$P' });
    assert.deepEqual((pick('entrypoint') as { command: unknown }).command, { shell: '$P' });
    const copy = pick('copy');
    assert.ok(copy?.kind === 'copy');
    assert.deepEqual([copy.chown, copy.sources, copy.dest], ['app', ['src'], '/src']);
    assert.deepEqual((pick('label') as { pairs: unknown }).pairs, [{ key: 'port', value: '8080' }]);
    assert.equal((pick('user') as { user: string }).user, 'app');
    assert.deepEqual((pick('volume') as { paths: readonly string[] }).paths, ['/data']);
    assert.deepEqual((pick('expose') as { ports: readonly string[] }).ports, ['8080']);
    assert.equal((pick('stopsignal') as { signal: string }).signal, 'SIGTERM');
  });

  it('expands COPY heredoc bodies as text, keeping their quotes', () => {
    const copy = typed('FROM a\nENV X=1\nCOPY <<EOF /f\necho "$X" \'$X\' \\$X\nEOF\n').stages[0]?.instructions[1];
    assert.ok(copy?.kind === 'copy');
    assert.equal(copy.contents[0]?.content, 'echo "1" \'1\' $X\n');
  });

  it('keeps quoted-delimiter heredoc bodies literal in COPY', () => {
    const copy = only('ENV X=1\nCOPY <<"EOF" /f\n$X\nEOF'.replace('ENV X=1\n', ''));
    assert.ok(copy.kind === 'copy');
    assert.equal(copy.contents[0]?.content, '$X\n');
  });

  it('honours escape=` in substitution', () => {
    const { stages } = typed('# escape=`\nFROM a\nENV A=1\nWORKDIR C:\\dir\\`$A\\$A\n');
    const workdir = stages[0]?.instructions[1];
    assert.ok(workdir?.kind === 'workdir');
    assert.equal(workdir.path, 'C:\\dir\\$A\\1');
  });
});

/** [Dockerfile, full message]: 40+ malformed inputs, each with its line and column. */
const MALFORMED: [string, string][] = [
  ['FROM a\nCPOY . /', 'Dockerfile:2:1: unknown instruction: CPOY (did you mean COPY?)'],
  ['FROM a\nRUNN x', 'Dockerfile:2:1: unknown instruction: RUNN (did you mean RUN?)'],
  ['FROM a\nXYZZY x', 'Dockerfile:2:1: unknown instruction: XYZZY'],
  ['RUN x', 'Dockerfile:1:1: no build stage in current context'],
  ['ARG A\n  ENV B=1', 'Dockerfile:2:3: no build stage in current context'],
  ['FROM', 'Dockerfile:1:1: FROM requires either one or three arguments'],
  ['FROM a b', 'Dockerfile:1:1: FROM requires either one or three arguments'],
  ['FROM a AS b c', 'Dockerfile:1:1: FROM requires either one or three arguments'],
  [
    'FROM a AS 1b',
    'Dockerfile:1:11: invalid name for build stage: "1b", name can\'t start with a number or contain symbols',
  ],
  ['FROM a AS x\nFROM b AS X', 'Dockerfile:2:11: duplicate stage name "x", first defined on line 1'],
  ['FROM $EMPTY', 'Dockerfile:1:6: base name ($EMPTY) should not be blank'],
  ['FROM --plat=x a', 'Dockerfile:1:6: unknown flag: --plat (did you mean --platform?)'],
  ['FROM a\nCOPY --frm=b . /', 'Dockerfile:2:6: unknown flag: --frm (did you mean --from?)'],
  ['FROM a\nADD --from=b . /', 'Dockerfile:2:5: unknown flag: --from'],
  ['FROM a\nCOPY --link=maybe . /', 'Dockerfile:2:6: expecting boolean value for flag --link, not: maybe'],
  ['FROM a\nCOPY --from . /', 'Dockerfile:2:6: missing a value on flag: --from'],
  ['FROM a\nCOPY --from=a --from=b . /', 'Dockerfile:2:6: duplicate flag specified: --from'],
  ['FROM a\nCOPY --chmod=999 . /', 'Dockerfile:2:6: chmod --chmod=999 is not an octal mode'],
  ['FROM a\nCOPY --from=${x . /', "Dockerfile:2:16: syntax error: missing '}'"],
  [
    'FROM a\nCOPY onlyone',
    'Dockerfile:2:1: COPY requires at least two arguments, but only one was provided. Destination could not be determined',
  ],
  [
    'FROM a\nADD onlyone',
    'Dockerfile:2:1: ADD requires at least two arguments, but only one was provided. Destination could not be determined',
  ],
  ['FROM a\nCOPY a <<EOF\nx\nEOF', 'Dockerfile:2:8: COPY cannot accept a heredoc as a destination'],
  [
    'FROM a\nADD --checksum=md5:x http://x /',
    'Dockerfile:2:5: invalid checksum "md5:x": expected a digest or a git commit',
  ],
  ['FROM a\nENV', 'Dockerfile:2:1: ENV requires at least one argument'],
  ['FROM a\nENV PATH', 'Dockerfile:2:5: ENV must have two arguments'],
  ['FROM a\nENV =x', 'Dockerfile:2:5: ENV names can not be blank'],
  ['FROM a\nENV a=1 b', 'Dockerfile:2:5: Syntax error - can\'t find = in "b". Must be of the form: name=value'],
  ['FROM a\nLABEL', 'Dockerfile:2:1: LABEL requires at least one argument'],
  ['FROM a\nLABEL x', 'Dockerfile:2:7: LABEL must have two arguments'],
  ['FROM a\nARG', 'Dockerfile:2:1: ARG requires at least one argument'],
  ['FROM a\nARG =x', 'Dockerfile:2:5: ARG names can not be blank'],
  ['FROM a\nWORKDIR', 'Dockerfile:2:1: WORKDIR requires exactly one argument'],
  ['FROM a\nWORKDIR ${x', "Dockerfile:2:12: syntax error: missing '}'"],
  ['FROM a\n\n\n\nWORKDIR ${A!b}', "Dockerfile:5:13: missing ':' in substitution"],
  ['FROM a\nWORKDIR ${A:?is required}', 'Dockerfile:2:14: A: is required'],
  ['FROM a\nUSER', 'Dockerfile:2:1: USER requires exactly one argument'],
  ['FROM a\nSTOPSIGNAL', 'Dockerfile:2:1: STOPSIGNAL requires exactly one argument'],
  ['FROM a\nSTOPSIGNAL 9$', 'Dockerfile:2:12: invalid signal: 9$'],
  ['FROM a\nEXPOSE', 'Dockerfile:2:1: EXPOSE requires at least one argument'],
  ['FROM a\nEXPOSE http', 'Dockerfile:2:8: invalid containerPort: http'],
  ['FROM a\nVOLUME', 'Dockerfile:2:1: VOLUME requires at least one argument'],
  ['FROM a\nVOLUME [""]', 'Dockerfile:2:1: VOLUME specified can not be an empty string'],
  ['FROM a\nSHELL /bin/sh -c', 'Dockerfile:2:1: SHELL requires the arguments to be in JSON form'],
  ['FROM a\nSHELL []', 'Dockerfile:2:1: SHELL requires at least one argument'],
  ['FROM a\nSHELL --x ["sh"]', 'Dockerfile:2:7: unknown flag: --x'],
  ['FROM a\nRUN', 'Dockerfile:2:1: RUN requires at least one argument'],
  ['FROM a\nRUN --mount=type=nfs,target=/x make', 'Dockerfile:2:13: unsupported mount type "nfs"'],
  ['FROM a\nRUN --mount=type=cache make', 'Dockerfile:2:13: mount type=cache requires a target'],
  [
    'FROM a\nRUN --mount=type=cache,target=/c,colour=red make',
    "Dockerfile:2:13: unexpected key 'colour' in 'colour=red'",
  ],
  ['FROM a\nRUN --network=bridge make', 'Dockerfile:2:5: unsupported network mode "bridge"'],
  ['FROM a\nRUN --security=root make', 'Dockerfile:2:5: unsupported security mode "root"'],
  ['FROM a\nRUN <<EOF\nno end', 'Dockerfile:2:5: unterminated heredoc EOF'],
  ['FROM a\nHEALTHCHECK', 'Dockerfile:2:1: HEALTHCHECK requires at least one argument'],
  ['FROM a\nHEALTHCHECK CMD', 'Dockerfile:2:1: Missing command after HEALTHCHECK CMD'],
  ['FROM a\nHEALTHCHECK PING x', 'Dockerfile:2:13: Unknown type "PING" in HEALTHCHECK (try CMD)'],
  ['FROM a\nHEALTHCHECK NONE x', 'Dockerfile:2:1: HEALTHCHECK NONE takes no arguments'],
  ['FROM a\nHEALTHCHECK --interval=5 CMD x', 'Dockerfile:2:13: invalid duration for --interval: "5"'],
  ['FROM a\nHEALTHCHECK --timeout=1us CMD x', 'Dockerfile:2:13: Interval "timeout" cannot be less than 1ms'],
  ['FROM a\nHEALTHCHECK --retries=-1 CMD x', 'Dockerfile:2:13: --retries cannot be negative (-1)'],
  ['FROM a\nHEALTHCHECK --retry=1 CMD x', 'Dockerfile:2:13: unknown flag: --retry (did you mean --retries?)'],
  ['FROM a\nONBUILD', 'Dockerfile:2:1: ONBUILD requires at least one argument'],
  ['FROM a\nONBUILD ONBUILD RUN x', "Dockerfile:2:9: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"],
  ['FROM a\nONBUILD FROM b', "Dockerfile:2:9: FROM isn't allowed as an ONBUILD trigger"],
  ['FROM a\nONBUILD MAINTAINER me', "Dockerfile:2:9: MAINTAINER isn't allowed as an ONBUILD trigger"],
  ['FROM a\nONBUILD CPOY . /', 'Dockerfile:2:9: unknown instruction: CPOY (did you mean COPY?)'],
  ['FROM a\nONBUILD COPY --frm=x . /', 'Dockerfile:2:14: unknown flag: --frm (did you mean --from?)'],
  ['FROM a\nMAINTAINER', 'Dockerfile:2:1: MAINTAINER requires exactly one argument'],
  ['FROM a\nCMD --x true', 'Dockerfile:2:5: unknown flag: --x'],
  ['FROM a\nCMD ["a", 1]', 'Dockerfile:2:5: when using JSON array syntax, arrays must be comprised of strings only'],
  ['# escape=x\nFROM a', "Dockerfile:1:1: invalid escape token 'x' does not match ` or \\"],
  ['# escape=`\n# escape=`\nFROM a', 'Dockerfile:2:1: only one escape parser directive can be used'],
  ['FROM a\nRUN echo hi \\\n  && \\\n  ${', 'Dockerfile:1:1: unknown instruction: SPLIT'],
];
// The last row is a trap for the table itself: RUN is never substituted, so it must parse.
MALFORMED.pop();

describe('instructions: malformed input', () => {
  for (const [text, message] of MALFORMED) {
    it(message, () => {
      assert.throws(
        () => instructions(parse(text)),
        (err: unknown) => {
          assert.ok(err instanceof DockerfileError, `not a DockerfileError: ${String(err)}`);
          assert.equal(err.message, message);
          return true;
        },
      );
    });
  }

  it('has at least 40 cases', () => assert.ok(MALFORMED.length >= 40));

  it('points into continuation lines', () => {
    assert.throws(() => instructions(parse('FROM a\nCOPY \\\n   --frm=x . /')), {
      message: 'Dockerfile:3:4: unknown flag: --frm (did you mean --from?)',
    });
    assert.throws(() => instructions(parse('FROM a\nWORKDIR /a \\\n  ${b')), {
      message: "Dockerfile:3:6: syntax error: missing '}'",
    });
  });

  it('accepts RUN with shell syntax that would not substitute', () => {
    assert.equal(typed('FROM a\nRUN echo ${ "$(" \n').stages[0]?.instructions.length, 1);
  });
});
