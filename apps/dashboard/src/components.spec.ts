import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { type Column, DataTable, ReleaseState, Table } from './components';

interface Row {
  readonly id: string;
  readonly name: string;
  readonly up: number;
}

const COLUMNS: readonly Column<Row>[] = [
  { header: 'Name', names: true, cell: (r) => r.name },
  { header: 'Up', className: 'num', data: (r) => ({ 'data-up': r.up }), cell: (r) => `${r.up} up` },
  { header: 'Actions', hidden: true, cell: () => createElement('button', null, 'Stop') },
];

describe('DataTable', () => {
  it('heads each column, names each row with its th and carries the data attributes', () => {
    const html = renderToStaticMarkup(
      createElement(DataTable<Row>, {
        label: 'Apps',
        testId: 'apps',
        rows: [
          { id: '1', name: 'shop', up: 2 },
          { id: '2', name: 'blog', up: 0 },
        ],
        rowKey: (r) => r.id,
        rowData: (r) => ({ 'data-app': r.name }),
        columns: COLUMNS,
      }),
    );
    assert.equal(
      html,
      '<div class="table-wrap"><table aria-label="Apps" data-testid="apps"><thead><tr>' +
        '<th scope="col">Name</th><th scope="col">Up</th>' +
        '<th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead><tbody>' +
        '<tr data-app="shop"><th scope="row">shop</th><td class="num" data-up="2">2 up</td><td><button>Stop</button></td></tr>' +
        '<tr data-app="blog"><th scope="row">blog</th><td class="num" data-up="0">0 up</td><td><button>Stop</button></td></tr>' +
        '</tbody></table></div>',
    );
  });

  it('leaves rows with state of their own to the page (Table with children)', () => {
    const html = renderToStaticMarkup(
      createElement(Table, {
        className: 'config',
        columns: [{ header: 'Key' }],
        children: createElement('tr', null, createElement('td', null, 'A')),
      }),
    );
    assert.equal(
      html,
      '<div class="table-wrap"><table class="config"><thead><tr><th scope="col">Key</th></tr></thead>' +
        '<tbody><tr><td>A</td></tr></tbody></table></div>',
    );
  });
});

describe('ReleaseState', () => {
  it('says why a deploying release waits, and nothing more of a live one', () => {
    const waiting = renderToStaticMarkup(
      createElement(ReleaseState, {
        release: { status: 'deploying', current: true, waiting: 'no node has room for 1 web (512 MiB, 1 CPU)' },
      }),
    );
    assert.equal(
      waiting,
      '<span class="badge busy">deploying</span> <span class="badge good">current</span> ' +
        '<span class="badge busy">waiting</span> <span class="hint">no node has room for 1 web (512 MiB, 1 CPU)</span>',
    );
    const live = renderToStaticMarkup(
      createElement(ReleaseState, { release: { status: 'live', current: true, waiting: null } }),
    );
    assert.equal(live, '<span class="badge good">live</span> <span class="badge good">current</span>');
  });
});
