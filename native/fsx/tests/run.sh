#!/usr/bin/env bash
# Loads build/fsx.node into node and checks each call once, printing TAP lines
# (`ok - ...` / `not ok - ...`). The TypeScript side is tested by libs/layers' specs.
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
node - "$here/build/fsx.node" "$scratch" <<'JS'
const [addon, dir] = process.argv.slice(2);
const fs = require('node:fs');
const check = (name, fn) => {
  try {
    const skip = fn();
    console.log(skip ? `ok - fsx: ${name} # SKIP ${skip}` : `ok - fsx: ${name}`);
  } catch (err) {
    console.log(`not ok - fsx: ${name}: ${err.message}`);
  }
};
const assert = (cond, what) => { if (!cond) throw new Error(what); };
let fsx;
check('loads', () => { fsx = require(addon); });
check('xattrs on a symlink itself', () => {
  fs.symlinkSync('/nonexistent', `${dir}/link`);
  fsx.lsetxattr(`${dir}/link`, 'trusted.paas', Buffer.from([0, 1, 2]));
  assert(fsx.llistxattr(`${dir}/link`).includes('trusted.paas'), 'listed');
  assert(fsx.lgetxattr(`${dir}/link`, 'trusted.paas').equals(Buffer.from([0, 1, 2])), 'value');
  fsx.lremovexattr(`${dir}/link`, 'trusted.paas');
  assert(fsx.lgetxattr(`${dir}/link`, 'trusted.paas') === null, 'removed');
});
check('mknod makes a 0/0 whiteout', () => {
  if (process.getuid() !== 0) return 'needs root';
  fsx.mknod(`${dir}/wh`, fs.constants.S_IFCHR | 0o600, 0, 0);
  const st = fs.lstatSync(`${dir}/wh`);
  assert(st.isCharacterDevice() && st.rdev === 0, 'char device 0/0');
});
check('paths as Buffers keep bytes that are not UTF-8', () => {
  const name = Buffer.concat([Buffer.from(`${dir}/caf`), Buffer.from([0xe9])]);
  fs.writeFileSync(name, '');
  fsx.lsetxattr(name, 'user.paas', Buffer.from('y'));
  assert(fsx.lgetxattr(name, 'user.paas').toString() === 'y', 'value');
  assert(fsx.llistxattr(name).includes('user.paas'), 'listed');
  let refused = false;
  try {
    fsx.llistxattr(Buffer.from(`${dir}/a\0b`));
  } catch (err) {
    refused = err instanceof TypeError;
  }
  assert(refused, 'a NUL inside a Buffer path is refused');
});
check('isMountRoot tells a mount root from a directory', () => {
  const root = fsx.isMountRoot('/proc');
  if (root === null) return 'kernel before 5.8';
  assert(root === true, '/proc is a mount root');
  assert(fsx.isMountRoot(dir) === false, 'a scratch dir is not');
  assert(fsx.isMountRoot('/proc/self') === false, 'a symlink is not followed');
});
check('errors look like fs errors', () => {
  try {
    fsx.lgetxattr(`${dir}/missing`, 'user.x');
  } catch (err) {
    assert(err.code === 'ENOENT' && err.syscall === 'lgetxattr' && err.path === `${dir}/missing`, err.message);
    return;
  }
  throw new Error('no error thrown');
});
check('idmapTree: a user namespace fd and an idmapped view of a directory, attached by moveMount', () => {
  if (process.getuid() !== 0) return 'needs root';
  fs.mkdirSync(`${dir}/idsrc`);
  fs.mkdirSync(`${dir}/idview`);
  fs.writeFileSync(`${dir}/idsrc/f`, 'x');
  fs.chownSync(`${dir}/idsrc/f`, 7, 7);
  const ns = fsx.usernsFd(300000, 300000, 65536);
  let tree;
  try {
    tree = fsx.idmapTree(`${dir}/idsrc`, ns, false);
    fsx.moveMount(tree, `${dir}/idview`);
  } finally {
    if (tree !== undefined) fs.closeSync(tree);
    fs.closeSync(ns);
  }
  try {
    const st = fs.statSync(`${dir}/idview/f`);
    assert(st.uid === 300007 && st.gid === 300007, `owner ${st.uid}:${st.gid} through the view`);
    assert(fs.statSync(`${dir}/idsrc/f`).uid === 7, 'the source keeps its owner');
  } finally {
    fsx.umount2(`${dir}/idview`, 0);
  }
});
check('usernsFd refuses host root, -1 (no wrap to 4294967295), fractions, an empty size and a range past 2^32-2', () => {
  for (const [uid, gid, size] of [
    [0, 300000, 65536],
    [300000, -1, 65536],
    [1.5, 300000, 65536],
    [300000, 300000, 0],
    [4294901760, 300000, 65536],
    [300000, 4294967295, 1],
  ]) {
    let failed;
    try {
      fs.closeSync(fsx.usernsFd(uid, gid, size));
    } catch (err) {
      failed = err;
    }
    assert(failed instanceof TypeError && /must be/.test(failed.message), `${uid} ${gid} ${size}: ${failed}`);
  }
  fs.closeSync(fsx.usernsFd(4294901759, 4294901759, 65536)); // up to 4294967294, the largest id
});
check('usernsFd with hostRootAs maps host root to that id too (what host root makes lands as it)', () => {
  fs.mkdirSync(`${dir}/rootsrc`);
  fs.mkdirSync(`${dir}/rootview`);
  let failed;
  try {
    fsx.usernsFd(300000, 300000, 65536, 100); // inside the range: the extents would overlap
  } catch (err) {
    failed = err;
  }
  assert(failed instanceof TypeError && /hostRootAs must be at least size/.test(failed.message), `${failed}`);
  const ns = fsx.usernsFd(300000, 300000, 65536, 65536);
  let tree;
  try {
    tree = fsx.idmapTree(`${dir}/rootsrc`, ns, false);
    fsx.moveMount(tree, `${dir}/rootview`);
  } finally {
    if (tree !== undefined) fs.closeSync(tree);
    fs.closeSync(ns);
  }
  try {
    fs.writeFileSync(`${dir}/rootview/made`, 'x'); // as host root: refused (EOVERFLOW) without hostRootAs
    assert(fs.statSync(`${dir}/rootsrc/made`).uid === 65536, `on disk ${fs.statSync(`${dir}/rootsrc/made`).uid}`);
  } finally {
    fsx.umount2(`${dir}/rootview`, 0);
  }
});
JS
