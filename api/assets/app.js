// premium-spread dashboard: the premium table (GET /api/v1/premiums, then live from the SSE
// stream), a chart of one coin's history with its live tail, and the status strip (FX, job
// stats). Values are the API's decimal strings: they are compared and formatted as strings
// (no float artefacts); only the chart turns them into numbers, to draw them.
'use strict';
(() => {
  // freshness.ticker_ms by default: a row whose prices are older than this is marked stale
  // between two updates (its FX rate by the row's own inputs.fx_limit_ms).
  const STALE_MS = 5000;
  const TABLE_REFRESH_MS = 30000;
  const STATUS_REFRESH_MS = 5000;

  const I18N = {
    en: {
      title: 'Kimchi premium', api_docs: 'API', fx_in_use: 'USD/KRW in use', workers: 'Workers alive',
      close: 'Close', filter_coin: 'Coin', filter_pair: 'Pair', all_pairs: 'All pairs',
      show_unavailable: 'Show unavailable', col_coin: 'Coin', col_pair: 'Pair', col_rate: 'Premium %',
      col_usdt_rate: 'USDT prem. %', col_entry: 'Entry %', col_exit: 'Exit %', col_entry_net: 'Entry net %',
      col_exit_net: 'Exit net %', col_korea: 'Korea ₩', col_foreign: 'Foreign ₩', col_funding: 'Funding %',
      col_flags: 'Flags', col_age: 'Age', loading: 'Loading…', live: 'Live', connecting: 'Connecting…',
      reconnecting: 'Reconnecting…', reconnected: 'reconnects', rows: 'rows', premium: 'Premium',
      usdt_premium: 'USDT premium', entry: 'Entry', exit: 'Exit', no_history: 'no history in this range yet',
      buckets: 'buckets', missed: 'missed', dead: 'dead', last_ok: 'last ok', never: 'never',
      ago: 'ago', unavailable: 'unavailable', load_failed: 'Could not load', history_of: 'premium history',
      'fetch-ticker': 'tickers', 'fetch-fx': 'FX', 'compute-premium': 'premiums', 'refresh-markets': 'markets',
      warning: 'warning', caution: 'caution', deposit_suspended: 'deposits off',
      withdrawal_suspended: 'withdrawals off', suspect: 'suspect',
      stale: 'stale',
    },
    ko: {
      title: '김치 프리미엄', api_docs: 'API 문서', fx_in_use: '적용 환율 USD/KRW', workers: '작동 중인 워커',
      close: '닫기', filter_coin: '코인', filter_pair: '거래소 쌍', all_pairs: '전체',
      show_unavailable: '미산출 포함', col_coin: '코인', col_pair: '거래소', col_rate: '김프 %',
      col_usdt_rate: '테더 김프 %', col_entry: '진입 %', col_exit: '탈출 %', col_entry_net: '진입(수수료) %',
      col_exit_net: '탈출(수수료) %', col_korea: '국내가 ₩', col_foreign: '해외가 ₩', col_funding: '펀딩비 %',
      col_flags: '표시', col_age: '경과', loading: '불러오는 중…', live: '실시간', connecting: '연결 중…',
      reconnecting: '재연결 중…', reconnected: '재연결', rows: '개', premium: '김프',
      usdt_premium: '테더 김프', entry: '진입', exit: '탈출', no_history: '이 구간의 기록이 아직 없습니다',
      buckets: '구간', missed: '누락', dead: '실패', last_ok: '최근 성공', never: '없음',
      ago: '전', unavailable: '미산출', load_failed: '불러오지 못함', history_of: '김프 추이',
      'fetch-ticker': '시세', 'fetch-fx': '환율', 'compute-premium': '김프 계산', 'refresh-markets': '마켓 목록',
      warning: '유의', caution: '주의', deposit_suspended: '입금 중단',
      withdrawal_suspended: '출금 중단', suspect: '의심',
      stale: '지연',
    },
  };
  const stored = (k) => { try { return localStorage.getItem(k); } catch (_) { return null; } };
  const store = (k, v) => { try { localStorage.setItem(k, v); } catch (_) { /* private mode */ } };
  let lang = stored('ps.lang') === 'ko' ? 'ko' : 'en';
  const t = (k) => I18N[lang][k] ?? I18N.en[k] ?? k;

  // ----- decimal strings -----

  // [negative, integer digits without leading zeros, fraction digits without trailing zeros]
  function parts(s) {
    let neg = s[0] === '-';
    if (neg || s[0] === '+') s = s.slice(1);
    let [i, f = ''] = s.split('.');
    i = i.replace(/^0+/, '');
    f = f.replace(/0+$/, '');
    if (!i && !f) neg = false;
    return [neg, i, f];
  }
  function cmpAbs(a, b) {
    if (a[1].length !== b[1].length) return a[1].length - b[1].length;
    if (a[1] !== b[1]) return a[1] < b[1] ? -1 : 1;
    const n = Math.max(a[2].length, b[2].length);
    const fa = a[2].padEnd(n, '0'), fb = b[2].padEnd(n, '0');
    return fa < fb ? -1 : fa > fb ? 1 : 0;
  }
  function cmpDec(x, y) {
    const a = parts(x), b = parts(y);
    if (a[0] !== b[0]) return a[0] ? -1 : 1;
    const c = cmpAbs(a, b);
    return a[0] ? -c : c;
  }
  // Rounded half away from zero to `dp` places, as a string with exactly `dp` places.
  function round(s, dp) {
    let neg = s[0] === '-';
    if (neg || s[0] === '+') s = s.slice(1);
    let [i, f = ''] = s.split('.');
    if (!i) i = '0';
    if (f.length <= dp) {
      f = f.padEnd(dp, '0');
    } else {
      const up = f.charCodeAt(dp) >= 53;
      f = f.slice(0, dp);
      if (up) {
        const d = (i + f).split('');
        let k = d.length - 1;
        for (; k >= 0; k--) {
          if (d[k] === '9') { d[k] = '0'; } else { d[k] = String.fromCharCode(d[k].charCodeAt(0) + 1); break; }
        }
        let all = d.join('');
        if (k < 0) all = '1' + all;
        i = all.slice(0, all.length - dp);
        f = all.slice(all.length - dp);
      }
    }
    i = i.replace(/^0+(?=\d)/, '');
    if (/^0*$/.test(i + f)) neg = false;
    return (neg ? '-' : '') + i + (dp > 0 ? '.' + f : '');
  }
  const group = (i) => i.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  function fmt(s, dp) {
    if (s == null) return '';
    const r = round(s, dp);
    const neg = r[0] === '-';
    const [i, f] = (neg ? r.slice(1) : r).split('.');
    return (neg ? '−' : '') + group(i) + (f != null ? '.' + f : '');
  }
  // KRW: whole won from 100 up, 2 places from 1, 3 significant digits below 1.
  function krw(s) {
    if (s == null) return '';
    const [, i, f] = parts(s);
    if (i.length >= 3) return fmt(s, 0);
    if (i.length >= 1) return fmt(s, 2);
    const zeros = f.length - f.replace(/^0+/, '').length;
    return fmt(s, Math.min(zeros + 3, 10));
  }
  // × 100 by moving the point (a funding fraction as a percentage).
  function pct(s) {
    if (s == null) return null;
    const neg = s[0] === '-';
    let [i, f = ''] = (neg || s[0] === '+' ? s.slice(1) : s).split('.');
    f = f.padEnd(2, '0');
    i = (i + f.slice(0, 2)).replace(/^0+(?=\d)/, '');
    f = f.slice(2);
    return (neg ? '-' : '') + i + (f ? '.' + f : '');
  }
  const sign = (s) => (s == null ? '' : parts(s)[0] ? 'neg' : /^0*$/.test(parts(s)[1] + parts(s)[2]) ? '' : 'pos');
  const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  function age(ms) {
    if (ms == null) return '';
    if (ms < 60000) { const d = Math.floor(ms / 100); return `${Math.floor(d / 10)}.${d % 10} s`; }
    if (ms < 3600000) return `${Math.floor(ms / 60000)} min`;
    return `${Math.floor(ms / 3600000)} h`;
  }

  // ----- state -----

  const $ = (id) => document.getElementById(id);
  const dash = { events: 0, reconnects: 0, tableLoads: 0, chartPoints: 0 };
  window.__dash = dash;
  let rows = new Map();
  let offset = 0; // server clock − ours, from the table's as_of
  let ready = false;
  let sort = (() => {
    try { const s = JSON.parse(stored('ps.sort')); if (s && s.col && s.dir) return s; } catch (_) { /* none */ }
    return { col: 'rate', dir: 'desc' };
  })();
  const now = () => Date.now() + offset;
  const pairOf = (v) => `${v.korea_venue}-${v.foreign_venue}`;
  const keyOf = (v) => `${v.coin}|${pairOf(v)}`;
  const since = (at) => Math.max(0, now() - Date.parse(at));
  // The Age column is the prices' age: the FX rate is minutes or hours old by design and shown
  // in the status strip; a row's own observed_at/age_ms count it (see docs/api.md).
  const pricesAt = (v) => {
    if (!v.inputs) return null;
    const k = v.inputs.korea_observed_at, f = v.inputs.foreign_observed_at;
    return Date.parse(k) < Date.parse(f) ? k : f;
  };
  const ageOf = (v) => (pricesAt(v) ? since(pricesAt(v)) : null);
  const staleOf = (v) => !v.available || v.stale || ageOf(v) > STALE_MS
    || (v.inputs && since(v.inputs.fx_observed_at) > v.inputs.fx_limit_ms);

  const DEC_COLS = {
    rate: (v) => v.rate, usdt_rate: (v) => v.usdt_rate, entry_rate: (v) => v.entry_rate,
    exit_rate: (v) => v.exit_rate, entry_rate_net: (v) => v.entry_rate_net, exit_rate_net: (v) => v.exit_rate_net,
    korea_krw: (v) => v.inputs && v.inputs.korea_krw, foreign_krw: (v) => v.foreign_krw,
    funding_rate: (v) => v.funding_rate,
  };
  function compare(a, b) {
    const col = sort.col;
    let x, y, c;
    if (DEC_COLS[col]) {
      x = DEC_COLS[col](a); y = DEC_COLS[col](b);
      if (x == null || y == null) return x == null ? (y == null ? 0 : 1) : -1; // missing last
      c = cmpDec(x, y);
    } else if (col === 'age') {
      x = ageOf(a); y = ageOf(b);
      if (x == null || y == null) return x == null ? (y == null ? 0 : 1) : -1;
      c = x - y;
    } else if (col === 'flags') {
      c = a.flags.length - b.flags.length || a.flags.join().localeCompare(b.flags.join());
    } else if (col === 'pair') {
      c = pairOf(a).localeCompare(pairOf(b));
    } else {
      c = a.coin < b.coin ? -1 : a.coin > b.coin ? 1 : 0;
    }
    if (c === 0) c = keyOf(a) < keyOf(b) ? -1 : keyOf(a) > keyOf(b) ? 1 : 0;
    return sort.dir === 'asc' ? c : -c;
  }

  // ----- table -----

  function cell(col, text, cls) {
    return `<td data-col="${col}"${cls ? ` class="${cls}"` : ''}>${text}</td>`;
  }
  function rowHtml(v, selected) {
    const a = ageOf(v);
    const cls = [staleOf(v) ? 'stale' : '', v.available ? '' : 'unavail', selected ? 'sel' : ''].join(' ').trim();
    const flags = v.flags.map((f) => `<span class="flag ${esc(f)}">${esc(t(f))}</span>`).join('')
      + (v.available ? '' : `<span class="flag">${esc(t('unavailable'))}</span> ${v.skip ? esc(`${v.skip.input}: ${v.skip.reason}`) : ''}`);
    const rate = (k, dp) => cell(k, fmt(v[k], dp), `num ${sign(v[k])}`);
    return `<tr data-key="${esc(keyOf(v))}" data-coin="${esc(v.coin)}" data-pair="${pairOf(v)}"`
      + ` data-rate="${esc(v.rate ?? '')}" data-observed="${esc(pricesAt(v) ?? '')}"${cls ? ` class="${cls}"` : ''}>`
      + cell('coin', esc(v.coin))
      + cell('pair', `${v.korea_venue} / ${v.foreign_venue}`)
      + rate('rate', 2) + rate('usdt_rate', 2) + rate('entry_rate', 2) + rate('exit_rate', 2)
      + rate('entry_rate_net', 2) + rate('exit_rate_net', 2)
      + cell('korea_krw', krw(v.inputs && v.inputs.korea_krw), 'num')
      + cell('foreign_krw', krw(v.foreign_krw), 'num')
      + cell('funding_rate', fmt(pct(v.funding_rate), 4), `num ${sign(v.funding_rate)}`)
      + cell('flags', flags)
      + (v.inputs
        ? `<td data-col="age" class="num age" title="${esc(`${v.oldest_input} · ${age(since(v.observed_at))}`)}">${age(a)}</td>`
        : cell('age', age(a), 'num age'))
      + '</tr>';
  }

  // A tick brings one update per row: redraw the table at most every RENDER_MS, not per update.
  const RENDER_MS = 250;
  let renderTimer = null;
  let lastRender = 0;
  function render() {
    if (renderTimer) return;
    const wait = Math.max(0, RENDER_MS - (performance.now() - lastRender));
    renderTimer = setTimeout(() => { renderTimer = null; renderNow(); }, wait);
  }
  function renderNow() {
    lastRender = performance.now();
    const coinQ = $('f-coin').value.trim().toUpperCase();
    const pairQ = $('f-pair').value;
    const all = $('f-unavail').checked;
    const shown = [];
    for (const v of rows.values()) {
      if (!all && !v.available) continue;
      if (coinQ && !v.coin.includes(coinQ)) continue;
      if (pairQ && pairOf(v) !== pairQ) continue;
      shown.push(v);
    }
    shown.sort(compare);
    const sel = chart.key;
    $('premiums').tBodies[0].innerHTML = shown.map((v) => rowHtml(v, keyOf(v) === sel)).join('');
    $('count').textContent = `${shown.length} / ${rows.size} ${t('rows')}`;
    $('empty').hidden = ready;
    for (const th of document.querySelectorAll('#premiums th')) {
      const on = th.dataset.col === sort.col;
      th.classList.toggle('sorted', on);
      if (on) th.dataset.dir = sort.dir; else delete th.dataset.dir;
    }
  }

  function fillPairs() {
    const select = $('f-pair');
    const have = new Set([...select.options].map((o) => o.value));
    const pairs = [...new Set([...rows.values()].map(pairOf))].sort();
    for (const p of pairs) {
      if (have.has(p)) continue;
      const o = document.createElement('option');
      o.value = p; o.textContent = p.replace('-', ' / ');
      select.appendChild(o);
    }
  }

  async function getJSON(url) {
    const r = await fetch(url, { headers: { Accept: 'application/json' } });
    const body = await r.json();
    if (!r.ok) throw new Error(body && body.message ? body.message : `${r.status}`);
    return body;
  }

  async function loadTable() {
    try {
      const body = await getJSON('/api/v1/premiums');
      offset = Date.parse(body.as_of) - Date.now();
      const m = new Map();
      for (const v of body.premiums) m.set(keyOf(v), v);
      rows = m;
      fillPairs();
      dash.tableLoads++;
      if (!ready) {
        ready = true;
        renderNow();
        performance.mark('table-complete');
        document.body.dataset.ready = '1';
      } else {
        render();
      }
      return true;
    } catch (e) {
      $('empty').hidden = false;
      $('empty').textContent = `${t('load_failed')} /api/v1/premiums: ${e.message}`;
      return false;
    }
  }

  // ----- live stream -----

  let es = null;
  let retry = 0;
  let retryTimer = null;
  let opened = false;
  function setLive(state) {
    const el = $('live');
    el.dataset.state = state;
    el.className = `live ${state === 'live' ? 'on' : 'off'}`;
    el.textContent = t(state) + (dash.reconnects ? ` · ${dash.reconnects} ${t('reconnected')}` : '');
  }
  function connect() {
    setLive(opened ? 'reconnecting' : 'connecting');
    es = new EventSource('/api/v1/premiums/stream');
    es.addEventListener('open', () => {
      retry = 0;
      if (opened) { dash.reconnects++; loadTable(); } // catch up on what was missed
      opened = true;
      setLive('live');
    });
    es.addEventListener('premium', (e) => {
      const v = JSON.parse(e.data);
      dash.events++;
      rows.set(keyOf(v), v);
      if (keyOf(v) === chart.key) tail(v);
      render();
    });
    es.addEventListener('error', (e) => {
      // A server `error` event (the client fell behind) carries data and ends the stream;
      // a dropped connection is retried by the browser unless it gave up (CLOSED).
      if (e.data || es.readyState === EventSource.CLOSED) {
        es.close();
        retry++;
        clearTimeout(retryTimer);
        retryTimer = setTimeout(connect, Math.min(10000, 500 * 2 ** Math.min(retry, 5)));
      }
      setLive('reconnecting');
    });
  }

  // ----- status strip -----

  async function loadStatus() {
    try {
      const fx = await getJSON('/api/v1/fx');
      if (fx.in_use) {
        $('fx-rate').textContent = fmt(fx.in_use.usd_krw, 2);
        $('fx-meta').textContent = `${fx.in_use.source} · ${age(fx.in_use.age_ms)} ${t('ago')}`;
      } else {
        $('fx-rate').textContent = '–';
        $('fx-meta').textContent = fx.in_use_error || '';
      }
      const u = fx.usdt;
      $('usdt-rate').textContent = u && u.usdt_krw ? fmt(u.usdt_krw, 2) : '–';
      $('usdt-meta').textContent = u ? `${u.venue}${u.age_ms != null ? ` · ${age(u.age_ms)} ${t('ago')}` : ''}` : '';
    } catch (e) {
      $('fx-meta').textContent = `${t('load_failed')}: ${e.message}`;
    }
    try {
      const s = await getJSON('/api/v1/jobs/stats');
      $('workers').textContent = String(s.workers_alive);
      $('jobs').innerHTML = s.kinds.map((k) => {
        // Amber means late against the kind's own schedule, as the API judges it (`late`).
        const cls = k.counts.dead > 0 ? 'bad' : k.late || k.missed_ticks > 0 ? 'warn' : '';
        const last = k.last_success_age_ms == null ? t('never') : `${age(k.last_success_age_ms)} ${t('ago')}`;
        return `<span class="job ${cls}" data-kind="${esc(k.kind)}"><b>${esc(t(k.kind))}</b> `
          + `${esc(t('last_ok'))} ${esc(last)} · ${esc(t('missed'))} ${k.missed_ticks} · ${esc(t('dead'))} ${k.counts.dead}</span>`;
      }).join('');
    } catch (e) {
      $('jobs').textContent = `${t('load_failed')} /api/v1/jobs/stats: ${e.message}`;
    }
  }

  // ----- chart -----

  const IV = { '1s': [1, 900], '1m': [60, 86400], '1h': [3600, 30 * 86400], '1d': [86400, 365 * 86400] };
  const chart = { key: null, coin: null, korea: null, foreign: null, iv: stored('ps.iv') || '1m', u: null, data: null, req: 0 };
  if (!IV[chart.iv]) chart.iv = '1m';
  const num = (s) => (s == null ? null : Number(s));

  function openChart(coin, korea, foreign) {
    Object.assign(chart, { key: `${coin}|${korea}-${foreign}`, coin, korea, foreign });
    $('chart-panel').hidden = false;
    $('chart-title').textContent = `${coin} · ${korea} / ${foreign} · ${t('history_of')}`;
    loadHistory();
    render();
  }
  function closeChart() {
    chart.key = null;
    chart.req++;
    if (chart.u) { chart.u.destroy(); chart.u = null; }
    $('chart-panel').hidden = true;
    render();
  }
  async function loadHistory() {
    const req = ++chart.req;
    for (const b of document.querySelectorAll('.intervals button')) b.classList.toggle('on', b.dataset.iv === chart.iv);
    const [w, span] = IV[chart.iv];
    const to = (Math.floor(now() / 1000 / w) + 1) * w;
    const from = to - span;
    const iso = (s) => encodeURIComponent(new Date(s * 1000).toISOString());
    const url = `/api/v1/premiums/${encodeURIComponent(chart.coin)}/history?interval=${chart.iv}`
      + `&from=${iso(from)}&to=${iso(to)}&korea=${chart.korea}&foreign=${chart.foreign}`;
    let body;
    try {
      body = await getJSON(url);
    } catch (e) {
      if (req === chart.req) $('chart-note').textContent = `${t('load_failed')}: ${e.message}`;
      return;
    }
    if (req !== chart.req) return;
    const d = [[], [], [], [], []];
    for (const b of body.buckets) {
      d[0].push(Math.floor(Date.parse(b.start) / 1000));
      d[1].push(num(b.close)); d[2].push(num(b.usdt_close));
      d[3].push(num(b.entry_close)); d[4].push(num(b.exit_close));
    }
    chart.data = d;
    $('chart-note').textContent = d[0].length ? `${d[0].length} ${t('buckets')}` : t('no_history');
    draw();
  }
  function draw() {
    if (chart.u) { chart.u.destroy(); chart.u = null; }
    const d = chart.data;
    const has = (i) => d[i].some((x) => x != null);
    const el = $('chart');
    const opts = {
      width: Math.max(300, el.clientWidth), height: 300,
      scales: { x: { time: true } },
      axes: [
        { stroke: '#8593a3', grid: { stroke: '#26303b' }, ticks: { stroke: '#26303b' } },
        { stroke: '#8593a3', grid: { stroke: '#26303b' }, ticks: { stroke: '#26303b' }, values: (u, vs) => vs.map((v) => `${v} %`) },
      ],
      series: [
        {},
        { label: t('premium'), stroke: '#4c8dff', width: 2, spanGaps: true },
        { label: t('usdt_premium'), stroke: '#b57cff', width: 1, spanGaps: true, show: has(2) },
        { label: t('entry'), stroke: '#2fbf71', width: 1, dash: [6, 4], spanGaps: true, show: has(3) },
        { label: t('exit'), stroke: '#ef5350', width: 1, dash: [6, 4], spanGaps: true, show: has(4) },
      ],
    };
    chart.u = new uPlot(opts, d, el);
    dash.chartPoints = d[0].length;
  }
  // The live tail: a stream update of the charted coin and pair closes (or opens) the last bucket.
  function tail(v) {
    // By the prices' time, as history rows are: the update's own observed_at counts its FX rate.
    const at = pricesAt(v);
    if (!chart.u || !chart.data || !v.rate || !at) return;
    const w = IV[chart.iv][0];
    const b = Math.floor(Date.parse(at) / 1000 / w) * w;
    const d = chart.data;
    const last = d[0].length - 1;
    const vals = [num(v.rate), num(v.usdt_rate), num(v.entry_rate), num(v.exit_rate)];
    if (last >= 0 && d[0][last] === b) {
      for (let i = 0; i < 4; i++) d[i + 1][last] = vals[i];
    } else if (last < 0 || b > d[0][last]) {
      d[0].push(b);
      for (let i = 0; i < 4; i++) d[i + 1].push(vals[i]);
      if (d[0].length > 5000) for (const s of d) s.shift();
    } else {
      return;
    }
    const hidden = [2, 3, 4].some((i) => !chart.u.series[i].show && vals[i - 1] != null);
    if (hidden) { draw(); return; }
    chart.u.setData(d);
    dash.chartPoints = d[0].length;
  }

  // ----- language -----

  function applyLang() {
    document.documentElement.lang = lang;
    for (const el of document.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
    $('lang').textContent = lang === 'ko' ? 'English' : '한국어';
    setLive($('live').dataset.state);
    if (chart.key) {
      $('chart-title').textContent = `${chart.coin} · ${chart.korea} / ${chart.foreign} · ${t('history_of')}`;
      if (chart.data) draw();
    }
    render();
    loadStatus();
  }

  // ----- wiring -----

  function start() {
    $('lang').addEventListener('click', () => {
      lang = lang === 'ko' ? 'en' : 'ko';
      store('ps.lang', lang);
      applyLang();
    });
    document.querySelector('#premiums thead').addEventListener('click', (e) => {
      const th = e.target.closest('th');
      if (!th) return;
      const col = th.dataset.col;
      if (sort.col === col) sort.dir = sort.dir === 'asc' ? 'desc' : 'asc';
      else sort = { col, dir: DEC_COLS[col] ? 'desc' : 'asc' };
      store('ps.sort', JSON.stringify(sort));
      renderNow();
    });
    $('premiums').tBodies[0].addEventListener('click', (e) => {
      const tr = e.target.closest('tr');
      if (!tr) return;
      const [korea, foreign] = tr.dataset.pair.split('-');
      openChart(tr.dataset.coin, korea, foreign);
    });
    for (const id of ['f-coin', 'f-pair', 'f-unavail']) $(id).addEventListener('input', renderNow);
    $('f-pair').addEventListener('change', renderNow);
    for (const b of document.querySelectorAll('.intervals button')) {
      b.addEventListener('click', () => { chart.iv = b.dataset.iv; store('ps.iv', chart.iv); loadHistory(); });
    }
    $('chart-close').addEventListener('click', closeChart);
    let resizeTimer = null;
    window.addEventListener('resize', () => {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(() => { if (chart.u) chart.u.setSize({ width: Math.max(300, $('chart').clientWidth), height: 300 }); }, 100);
    });
    $('empty').hidden = false;
    // An alert's link (`/?coin=BTC&pair=upbit-binance`) opens the page on that row and its chart.
    const link = new URLSearchParams(location.search);
    const linkCoin = (link.get('coin') || '').trim().toUpperCase();
    const linkPair = link.get('pair') || '';
    if (linkCoin) $('f-coin').value = linkCoin;
    applyLang();
    loadTable().then(() => {
      if ([...$('f-pair').options].some((o) => o.value === linkPair)) $('f-pair').value = linkPair;
      const [korea, foreign] = linkPair.split('-');
      if (linkCoin && korea && foreign) openChart(linkCoin, korea, foreign);
      renderNow();
      connect();
    });
    setInterval(render, 1000); // ages and stale marks move without updates
    setInterval(loadTable, TABLE_REFRESH_MS); // coins listed or delisted meanwhile
    setInterval(loadStatus, STATUS_REFRESH_MS);
  }
  start();
})();
