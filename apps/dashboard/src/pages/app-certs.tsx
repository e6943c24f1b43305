/**
 * The app's TLS certificates, automatic certificates (each domain's ACME state) and HTTPS
 * policy, on its Domains tab: which domains each
 * certificate serves, when it expires, where it came from. Read-only: `paas certs:add` uploads
 * (a key belongs in a file, not in a browser form), `paas https` changes the policy.
 */
import { type Certificate, type CertsAuto, type HttpsSettings, appPath, get } from '../api';
import { DataTable, Empty, ErrorNotice } from '../components';
import { usePoll } from '../hooks';
import type { AppView } from './app-view';

const DAY = 86_400_000;

export function Certificates({ view }: { view: AppView }) {
  const { app, version } = view;
  const certs = usePoll((s) => get<Certificate[]>(appPath(app.name, '/certs'), s), 10_000, [app.name, version]);
  const https = usePoll((s) => get<HttpsSettings>(appPath(app.name, '/https'), s), 10_000, [app.name, version]);
  const auto = usePoll((s) => get<CertsAuto>(appPath(app.name, '/certs/auto'), s), 10_000, [app.name, version]);
  return (
    <section aria-labelledby="certs-heading">
      <h2 id="certs-heading">Certificates</h2>
      <ErrorNotice error={certs.error} action="Loading certificates" />
      <ErrorNotice error={https.error} action="Loading HTTPS settings" />
      <ErrorNotice error={auto.error} action="Loading automatic certificates" />
      {https.data ? <HttpsLine settings={https.data} /> : null}
      {auto.data ? <AutoCertificates auto={auto.data} now={Date.now()} /> : null}
      {certs.data ? <CertificateTable certs={certs.data} now={Date.now()} /> : null}
    </section>
  );
}

export function HttpsLine({ settings }: { settings: HttpsSettings }) {
  return (
    <p className="hint" data-testid="https-settings">
      HTTP to HTTPS redirect: {settings.httpsRedirect ? 'on' : 'off'}; HSTS:{' '}
      {settings.hstsMaxAge === null ? 'off' : `max-age ${settings.hstsMaxAge} s`}.
    </p>
  );
}

export function CertificateTable({ certs, now }: { certs: readonly Certificate[]; now: number }) {
  if (certs.length === 0)
    return (
      <Empty title="No certificates">
        <p>
          <code>paas certs:add CERT_FILE KEY_FILE</code> adds one.
        </p>
      </Empty>
    );
  return (
    <DataTable
      label="Certificates"
      testId="certs"
      rows={certs}
      rowKey={(c) => c.id}
      rowData={(c) => ({ 'data-cert': c.id })}
      columns={[
        {
          header: 'Serves',
          names: true,
          cell: (c) => (c.serving.length ? c.serving.join(', ') : <span className="muted">no domain</span>),
        },
        { header: 'Names', cell: (c) => <code>{c.names.join(', ')}</code> },
        { header: 'Expires', cell: (c) => expires(c.notAfter, now) },
        { header: 'Source', cell: (c) => c.source },
        { header: 'Issuer', className: 'muted', cell: (c) => c.issuer },
      ]}
    />
  );
}

function expires(iso: string, now: number): string {
  const at = Date.parse(iso);
  const days = Math.floor((at - now) / DAY);
  const date = iso.slice(0, 10);
  if (at <= now) return `expired ${date}`;
  return days < 1 ? `${date} (today)` : `${date} (in ${days} d)`;
}

const STATUS: Record<NonNullable<CertsAuto['domains'][number]['state']>, string> = {
  waiting: 'Waiting',
  issuing: 'Issuing',
  issued: 'Cert issued',
  failed: 'Failed',
  manual: 'Uploaded cert',
};

/** Why it failed and when it is tried next, when it renews, or which upload it is left to. */
function autoMessage(d: CertsAuto['domains'][number]): string {
  const at = (iso: string) => `${iso.slice(0, 16).replace('T', ' ')} UTC`;
  if (d.state === 'failed')
    return `${d.problem?.detail ?? 'the order failed'}${d.nextAttemptAt ? `; next attempt ${at(d.nextAttemptAt)}` : ''}`;
  if (d.state === 'issued' && d.nextAttemptAt) return `renews ${at(d.nextAttemptAt)}`;
  if (d.state === 'manual')
    return `uploaded certificate ${d.certificateId ?? ''} serves it; automatic once it expires or is removed`;
  return '';
}

/** Each custom domain's certificate from ACME (`paas certs:auto`): state, expiry, why it failed, or the upload it is left to. */
export function AutoCertificates({ auto, now }: { auto: CertsAuto; now: number }) {
  if (!auto.enabled)
    return (
      <p className="hint" data-testid="certs-auto">
        Automatic certificates: off (<code>paas certs:auto:enable</code>).
      </p>
    );
  return (
    <DataTable
      label="Automatic certificates"
      testId="certs-auto"
      rows={auto.domains}
      rowKey={(d) => d.hostname}
      rowData={(d) => ({ 'data-acme-state': d.state ?? 'waiting' })}
      columns={[
        { header: 'Domain', names: true, cell: (d) => d.hostname },
        { header: 'Status', cell: (d) => STATUS[d.state ?? 'waiting'] },
        { header: 'Expires', cell: (d) => (d.expiresAt ? expires(d.expiresAt, now) : '') },
        { header: 'Message', className: 'muted', cell: autoMessage },
      ]}
    />
  );
}
