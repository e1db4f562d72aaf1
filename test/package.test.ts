/**
 * What `npm pack` puts in the tarball, as npm itself lists it: a LICENSE matching package.json,
 * and no source map pointing at a file the tarball does not carry.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';

const ROOT = new URL('..', import.meta.url).pathname;

describe('the package as published', () => {
  const listing = JSON.parse(
    execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
      cwd: ROOT,
      encoding: 'utf8',
    }),
  ) as Array<{ files: Array<{ path: string }> }>;
  const files = new Set(listing[0]?.files.map((f) => f.path));

  it('carries a LICENSE that names the license package.json declares', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { license: string };
    expect(files.has('LICENSE')).toBe(true);
    expect(readFileSync(join(ROOT, 'LICENSE'), 'utf8')).toMatch(
      new RegExp(`^${pkg.license} License`),
    );
  });

  it('ships no source map that points at a file it does not ship', () => {
    const maps = [...files].filter((f) => f.endsWith('.js.map'));
    expect(maps.length).toBeGreaterThan(10);
    const missing: string[] = [];
    for (const m of maps) {
      const { sources } = JSON.parse(readFileSync(join(ROOT, m), 'utf8')) as { sources: string[] };
      for (const s of sources) {
        const target = normalize(join(dirname(m), s));
        if (!files.has(target)) missing.push(`${m} → ${target}`);
      }
    }
    expect(missing).toEqual([]);
    // Nor the tests, benchmarks or tooling.
    expect([...files].filter((f) => /^(test|bench|tools)\//.test(f))).toEqual([]);
  });
});
