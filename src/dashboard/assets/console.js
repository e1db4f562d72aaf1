// The campaign console in the browser: reads the JSON API every 2 s and draws it with DOM text
// nodes only (never innerHTML), so nothing a campaign or a gateway wrote is parsed as HTML.
// Controls POST with the page's CSRF token; the server checks it (guard.ts).
'use strict';

(() => {
  const meta = (n) => document.querySelector(`meta[name="${n}"]`)?.content ?? '';
  const page = meta('vb-page');
  const controls = meta('vb-controls') === 'on';
  const token = meta('csrf-token');
  const EVERY_MS = 2000;
  const $ = (id) => document.getElementById(id);
  const el = (tag, text, attrs = {}) => {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    return e;
  };
  const fill = (node, children) => node.replaceChildren(...children);
  const when = (iso) => (iso ? iso.replace('T', ' ').slice(0, 16) + ' UTC' : '—');
  const pct = (x) => (x === null ? '—' : `${(x * 100).toFixed(1)}%`);
  const status = (text) => {
    const s = $('status');
    if (s) s.textContent = text;
  };

  async function getJson(url) {
    const res = await fetch(url, { headers: { accept: 'application/json' } });
    const body = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(body.error ?? `${res.status} ${res.statusText}`);
    return body;
  }

  /** Runs `draw` now and every 2 s, one call at a time. */
  function poll(draw) {
    let timer;
    const tick = async () => {
      clearTimeout(timer);
      try {
        await draw();
      } catch (err) {
        status(`Could not refresh: ${err.message}`);
      }
      timer = setTimeout(tick, EVERY_MS);
    };
    void tick();
    return tick;
  }

  // ---- the list of campaigns
  function listPage() {
    let pageNo = 1;
    let pages = 1;
    const draw = async () => {
      const q = new URLSearchParams({
        name: $('f-name').value,
        state: $('f-state').value,
        page: String(pageNo),
      });
      const data = await getJson(`/api/campaigns?${q}`);
      pages = Math.max(1, Math.ceil(data.total / data.per));
      const rows = data.campaigns.map((c) => {
        const tr = el('tr');
        const name = el('td');
        name.append(el('a', c.name, { href: `/campaigns/${encodeURIComponent(c.name)}` }));
        const progress = el('td');
        progress.append(
          el('progress', null, { max: String(c.counts.total || 1), value: String(c.counts.sent) }),
          el('span', ` ${c.counts.sent} of ${c.counts.total}`),
        );
        tr.append(
          name,
          el('td', c.state, { class: `state state-${c.state.replace(/\W+/g, '-')}` }),
          progress,
          el('td', c.counts.failed),
          el('td', c.counts.delivered),
          el('td', c.counts.read),
          el('td', c.priority),
          el('td', c.campaignRate === null ? '—' : `${c.campaignRate}/s`),
          el('td', when(c.startedAt)),
          el('td', when(c.finishedAt)),
        );
        return tr;
      });
      fill(document.querySelector('#campaigns tbody'), rows);
      $('page-of').textContent = ` page ${pageNo} of ${pages} (${data.total} campaigns) `;
      $('prev').disabled = pageNo <= 1;
      $('next').disabled = pageNo >= pages;
      status(data.total === 0 ? 'No campaigns match.' : '');
    };
    const refresh = poll(draw);
    $('filter').addEventListener('input', () => {
      pageNo = 1;
      void refresh();
    });
    $('filter').addEventListener('submit', (e) => e.preventDefault());
    $('prev').addEventListener('click', () => {
      pageNo = Math.max(1, pageNo - 1);
      void refresh();
    });
    $('next').addEventListener('click', () => {
      pageNo = Math.min(pages, pageNo + 1);
      void refresh();
    });
  }

  // ---- one campaign
  function campaignPage() {
    const name = $('campaign').dataset.name;
    const base = `/api/campaigns/${encodeURIComponent(name)}`;
    let last;
    let chart;
    const pairs = (node, list) =>
      fill(
        node,
        list.flatMap(([k, v]) => [el('dt', k), el('dd', v === null || v === undefined ? '—' : v)]),
      );
    const drawChart = (timeline) => {
      const box = $('chart');
      const xs = timeline.map((t) => Date.parse(t.at) / 1000);
      const data = [xs, timeline.map((t) => t.accepted), timeline.map((t) => t.delivered)];
      const width = Math.max(280, box.clientWidth || 600);
      if (!window.uPlot) return;
      if (chart && chart.width === width) {
        chart.setData(data);
        return;
      }
      chart?.destroy();
      chart = new window.uPlot(
        {
          width,
          height: 220,
          series: [
            {},
            { label: 'accepted', stroke: '#1565c0', width: 2, points: { show: true } },
            { label: 'delivered', stroke: '#2e7d32', width: 2, points: { show: true } },
          ],
          // A minute either side: one minute of data is a point, not a span of years.
          scales: { x: { time: true, range: (_u, min, max) => [min - 60, max + 60] } },
          axes: [{}, { label: 'per minute' }],
        },
        data,
        box,
      );
    };
    const draw = async () => {
      const c = (last = await getJson(base));
      pairs($('counts'), [
        ['state', c.state],
        ['total', c.counts.total],
        ['sent', c.counts.sent],
        ['accepted', c.counts.accepted],
        ['failed', c.counts.failed],
        ['waiting', c.counts.waiting],
        ['being sent', c.counts.active],
        ['paused', c.counts.paused],
        ['cancelled', c.counts.cancelled],
        ['expired', c.counts.expired],
        ['suppressed', c.counts.suppressed],
      ]);
      fill(
        $('funnel'),
        c.funnel.map((f) => el('li', `${f.step}: ${f.count} (${pct(f.share)})`)),
      );
      // The SMS fallbacks' own funnel, shown once the campaign made any.
      $('sms-section').hidden = c.sms === null;
      if (c.sms)
        fill(
          $('sms'),
          c.sms.map((f) => el('li', `${f.step}: ${f.count}`)),
        );
      const s = c.schedule;
      pairs($('timing'), [
        ['started', when(c.startedAt)],
        ['finished', when(c.finishedAt)],
        ['start', when(s.at)],
        ['window', s.window ? `${s.window} ${s.tz ?? 'UTC'}` : null],
        ['deadline', when(s.expires)],
        ['priority', s.priority],
        ['weight', s.weight],
        ['campaign rate', s.campaignRate === null ? null : `${s.campaignRate}/s`],
        ['opens', c.opensAt ? when(c.opensAt) : null],
      ]);
      fill(
        document.querySelector('#failures tbody'),
        c.failures.map((f) => {
          const tr = el('tr');
          tr.append(el('td', f.code), el('td', f.name), el('td', f.count));
          return tr;
        }),
      );
      drawChart(c.timeline);
      status(`${c.state} · updated ${new Date().toLocaleTimeString()}`);
    };
    const refresh = poll(draw);

    if (controls) {
      for (const b of document.querySelectorAll('button[data-act]')) {
        b.addEventListener('click', async () => {
          const act = b.dataset.act;
          const out = $('control-result');
          let body = {};
          if (act === 'cancel') {
            const stops = last ? last.counts.waiting + last.counts.paused : 0;
            if (
              !window.confirm(`Cancel campaign ${name}? It stops ${stops} messages not sent yet.`)
            )
              return;
          }
          if (act === 'retry-failed') {
            const raw = $('retry-codes').value.trim();
            if (raw !== '' && raw !== 'all')
              body = {
                codes: raw
                  .split(/[\s,]+/)
                  .filter(Boolean)
                  .map(Number),
              };
          }
          b.disabled = true;
          try {
            const res = await fetch(`${base}/${act}`, {
              method: 'POST',
              headers: { 'content-type': 'application/json', 'x-csrf-token': token },
              body: JSON.stringify(body),
            });
            const answer = await res.json().catch(() => ({}));
            out.textContent = res.ok
              ? `${act}: ${JSON.stringify(answer)}`
              : `${act} refused: ${answer.error ?? res.status}`;
          } finally {
            b.disabled = false;
            void refresh();
          }
        });
      }
    }

    $('search').addEventListener('submit', async (e) => {
      e.preventDefault();
      const id = $('message-id').value.trim();
      try {
        const m = await getJson(`${base}/messages/${encodeURIComponent(id)}`);
        pairs($('message'), [
          ['id', m.id],
          ['phone', m.phone],
          ['state', m.state],
          ['msg_id', m.msgId],
          ['gateway status', m.statusCode === null ? null : `${m.statusCode} ${m.status}`],
          ['delivery', m.delivery],
          ['delivered', when(m.deliveredAt)],
          ['read', when(m.readAt)],
          ['attempts', m.attempts],
          ['last error', m.error],
        ]);
      } catch (err) {
        pairs($('message'), [['not found', err.message]]);
      }
    });
  }

  if (page === 'list') listPage();
  if (page === 'campaign') campaignPage();
})();
