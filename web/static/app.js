// thanosc query UI: a PromQL panel (table and graph) and a list of store
// endpoints, on the Prometheus HTTP API v1 of the querier. No framework and
// no external assets; every URL is relative to the page, so the UI works
// under --web.route-prefix and --web.external-prefix. The panel's state
// lives in the page URL (g0.expr, g0.tab, g0.range_input, ...), the way
// Prometheus and Thanos link and bookmark queries.
'use strict';

(function () {
  var RANGES = ['5m', '15m', '30m', '1h', '2h', '6h', '12h', '1d', '2d', '1w', '2w'];
  var UNITS = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800, y: 31536000 };
  var COLORS = ['#3a5bd9', '#e4572e', '#17a398', '#f3a712', '#8e44ad', '#2e86de',
    '#c0392b', '#27ae60', '#d35400', '#7f8c8d', '#16a085', '#b33771',
    '#3d3d9e', '#6ab04c', '#e17055', '#00a8cc'];
  var MAX_SERIES_DRAWN = 200;
  var MAX_TABLE_ROWS = 10000;

  // ---- small helpers ----

  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    if (attrs) {
      for (var k in attrs) {
        if (k === 'text') e.textContent = attrs[k];
        else if (k === 'class') e.className = attrs[k];
        else if (k.slice(0, 2) === 'on') e.addEventListener(k.slice(2), attrs[k]);
        else e.setAttribute(k, attrs[k]);
      }
    }
    (children || []).forEach(function (c) {
      if (c == null) return;
      e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    });
    return e;
  }

  var SVGNS = 'http://www.w3.org/2000/svg';
  function svg(tag, attrs) {
    var e = document.createElementNS(SVGNS, tag);
    for (var k in attrs || {}) {
      if (k === 'text') e.textContent = attrs[k];
      else e.setAttribute(k, attrs[k]);
    }
    return e;
  }

  function parseDuration(s) {
    var re = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)/g, m, total = 0, seen = '';
    s = String(s || '').trim();
    while ((m = re.exec(s)) !== null) {
      total += parseFloat(m[1]) * UNITS[m[2]];
      seen += m[0];
    }
    if (!seen || seen !== s) {
      var n = Number(s);
      return s !== '' && isFinite(n) && n > 0 ? n : null;
    }
    return total > 0 ? total : null;
  }

  function formatDuration(sec) {
    var order = ['w', 'd', 'h', 'm', 's'], out = '';
    for (var i = 0; i < order.length; i++) {
      var u = UNITS[order[i]];
      if (sec >= u) {
        var n = Math.floor(sec / u);
        out += n + order[i];
        sec -= n * u;
      }
    }
    return out || '0s';
  }

  function pad(n, w) {
    n = String(n);
    while (n.length < (w || 2)) n = '0' + n;
    return n;
  }

  // "2006-01-02 15:04:05" in UTC; the UI shows and reads UTC throughout.
  function formatTime(sec) {
    var d = new Date(sec * 1000);
    return d.getUTCFullYear() + '-' + pad(d.getUTCMonth() + 1) + '-' +
      pad(d.getUTCDate()) + ' ' + pad(d.getUTCHours()) + ':' +
      pad(d.getUTCMinutes()) + ':' + pad(d.getUTCSeconds());
  }

  function parseTime(s) {
    s = String(s || '').trim();
    if (!s) return null;
    if (/^\d+(\.\d+)?$/.test(s)) return parseFloat(s);
    var m = /^(\d{4})-(\d\d)-(\d\d)(?:[ T](\d\d):(\d\d)(?::(\d\d))?)?Z?$/.exec(s);
    if (!m) return null;
    return Date.UTC(+m[1], +m[2] - 1, +m[3], +(m[4] || 0), +(m[5] || 0),
      +(m[6] || 0)) / 1000;
  }

  function formatValue(v) {
    if (typeof v === 'string') {
      if (v === 'NaN' || v === '+Inf' || v === '-Inf') return v;
      v = parseFloat(v);
    }
    if (!isFinite(v)) return String(v);
    var a = Math.abs(v);
    if (a !== 0 && (a >= 1e15 || a < 1e-4)) return v.toExponential(3);
    return String(Math.round(v * 1e6) / 1e6);
  }

  function axisValue(v) {
    var a = Math.abs(v);
    if (a >= 1e12) return +(v / 1e12).toFixed(2) + 'T';
    if (a >= 1e9) return +(v / 1e9).toFixed(2) + 'G';
    if (a >= 1e6) return +(v / 1e6).toFixed(2) + 'M';
    if (a >= 1e4) return +(v / 1e3).toFixed(2) + 'k';
    if (a !== 0 && a < 1e-3) return v.toExponential(1);
    return String(+v.toFixed(4));
  }

  function metricName(metric) {
    return metric && metric.__name__ ? metric.__name__ : '';
  }

  // {a="b", c="d"} as text.
  function seriesText(metric) {
    var keys = Object.keys(metric || {}).filter(function (k) { return k !== '__name__'; }).sort();
    var body = keys.map(function (k) { return k + '=' + JSON.stringify(metric[k]); }).join(', ');
    return metricName(metric) + (keys.length || !metricName(metric) ? '{' + body + '}' : '');
  }

  // The same, as DOM with highlighted names and values.
  function seriesNode(metric) {
    var node = el('span', { class: 'series' });
    var keys = Object.keys(metric || {}).filter(function (k) { return k !== '__name__'; }).sort();
    node.appendChild(document.createTextNode(metricName(metric)));
    if (keys.length || !metricName(metric)) {
      node.appendChild(document.createTextNode('{'));
      keys.forEach(function (k, i) {
        if (i) node.appendChild(document.createTextNode(', '));
        node.appendChild(el('span', { class: 'ln', text: k }));
        node.appendChild(document.createTextNode('='));
        node.appendChild(el('span', { class: 'lv', text: JSON.stringify(metric[k]) }));
      });
      node.appendChild(document.createTextNode('}'));
    }
    return node;
  }

  function alertBox(kind, text) {
    return el('div', { class: 'alert ' + kind, role: 'alert', text: text });
  }

  // GETs a relative API path; resolves to {data, warnings} or rejects with
  // Error whose message is "errorType: error" as the API reported it.
  function api(path, params) {
    var qs = Object.keys(params || {}).filter(function (k) {
      return params[k] !== undefined && params[k] !== null && params[k] !== '';
    }).map(function (k) {
      return encodeURIComponent(k) + '=' + encodeURIComponent(params[k]);
    }).join('&');
    return fetch(path + (qs ? '?' + qs : ''), { headers: { Accept: 'application/json' } })
      .then(function (res) {
        return res.text().then(function (body) {
          var j = null;
          try { j = JSON.parse(body); } catch (e) { /* not JSON */ }
          if (!j) throw new Error('HTTP ' + res.status + ': ' + (body.trim() || res.statusText));
          if (j.status !== 'success') {
            var err = new Error((j.errorType ? j.errorType + ': ' : '') + (j.error || 'HTTP ' + res.status));
            err.warnings = j.warnings;
            throw err;
          }
          return { data: j.data, warnings: j.warnings || [], infos: j.infos || [] };
        });
      });
  }

  // ---- the query panel (/graph) ----

  // Metric names for the "insert metric" list, fetched once per page.
  var metricNames = null;
  function loadMetricNames() {
    if (!metricNames) {
      metricNames = api('api/v1/label/__name__/values').then(function (r) {
        return (r.data || []).slice().sort();
      }, function () { metricNames = null; return []; });
    }
    return metricNames;
  }

  // Panel i's state from URL parameters g<i>.expr, g<i>.tab, ...
  function readState(p, i) {
    var g = function (k) { return p.get('g' + i + '.' + k); };
    var tab = g('tab');
    return {
      expr: g('expr') || '',
      tab: tab === '1' || tab === 'table' ? 'table' : 'graph',
      range: g('range_input') || '1h',
      end: g('end_input') || '',
      moment: g('moment_input') || '',
      step: g('step_input') || '',
      dedup: g('deduplicate') !== '0',
      partial: g('partial_response') !== '0',
      resolution: g('max_source_resolution') || 'auto'
    };
  }

  function addState(p, i, s) {
    var g = function (k, v) { p.set('g' + i + '.' + k, v); };
    g('expr', s.expr);
    g('tab', s.tab === 'table' ? '1' : '0');
    g('range_input', s.range);
    if (s.end) g('end_input', s.end);
    if (s.moment) g('moment_input', s.moment);
    if (s.step) g('step_input', s.step);
    g('deduplicate', s.dedup ? '1' : '0');
    g('partial_response', s.partial ? '1' : '0');
    g('max_source_resolution', s.resolution);
  }

  // The query page: panels g0, g1, ... as the URL lists them, and a
  // button to add one. Each panel's changes rewrite the whole URL.
  function graphPage(root) {
    var p = new URLSearchParams(location.search);
    var idx = [];
    p.forEach(function (v, k) {
      var m = /^g(\d+)\./.exec(k);
      if (m && idx.indexOf(+m[1]) < 0) idx.push(+m[1]);
    });
    idx.sort(function (a, b) { return a - b; });
    if (!idx.length) idx.push(0);
    var panels = [];
    var list = el('div', { id: 'panels' });
    root.appendChild(list);
    function save() {
      var q = new URLSearchParams();
      panels.forEach(function (pn, i) { addState(q, i, pn.state()); });
      history.replaceState(null, '', '?' + q.toString());
    }
    function add(st, n) {
      var pn = queryPanel(list, st, n, save, function () {
        panels.splice(panels.indexOf(pn), 1);
        save();
      });
      panels.push(pn);
      return pn;
    }
    idx.forEach(function (i, n) { add(readState(p, i), n); });
    root.appendChild(el('button', {
      id: 'add-panel', text: 'Add panel', onclick: function () {
        var pn = add(readState(new URLSearchParams(), 0), panels.length);
        save();
        pn.focus();
      }
    }));
    if (panels[0]) panels[0].focus();
  }

  // One query panel in root, n-th on the page (ids get "-<n>" after the
  // first); save() records every panel's state, remove() drops this one.
  function queryPanel(root, st, n, save, remove) {
    var S = n ? '-' + n : '';
    var seq = 0;

    var expr = el('textarea', {
      id: 'expr' + S, rows: '1', spellcheck: 'false', placeholder: 'Expression (press Enter to execute, Shift+Enter for a new line)'
    });
    expr.value = st.expr;
    var exec = el('button', { id: 'execute' + S, class: 'primary', text: 'Execute' });

    var dedup = el('input', { type: 'checkbox', id: 'opt-dedup' + S });
    dedup.checked = st.dedup;
    var partial = el('input', { type: 'checkbox', id: 'opt-partial' + S });
    partial.checked = st.partial;
    var resSel = el('select', { id: 'opt-resolution' + S });
    [['auto', 'Auto downsampling'], ['0s', 'Only raw data'], ['5m', 'Max 5m downsampling'],
      ['1h', 'Max 1h downsampling']].forEach(function (o) {
      resSel.appendChild(el('option', { value: o[0], text: o[1] }));
    });
    resSel.value = st.resolution === 'raw' ? '0s' : st.resolution;
    if (resSel.value === '') resSel.value = 'auto';

    var metricSel = el('select', { id: 'metrics' + S, title: 'Insert a metric name at the cursor' }, [
      el('option', { value: '', text: 'Insert metric\u2026' })
    ]);
    var metricsFilled = false;
    function fillMetrics() {
      if (metricsFilled) return;
      metricsFilled = true;
      loadMetricNames().then(function (names) {
        names.forEach(function (m) { metricSel.appendChild(el('option', { value: m, text: m })); });
        if (!names.length) metricsFilled = false;
      });
    }
    metricSel.addEventListener('focus', fillMetrics);
    metricSel.addEventListener('mousedown', fillMetrics);
    metricSel.addEventListener('change', function () {
      var m = metricSel.value;
      metricSel.value = '';
      if (!m) return;
      var a = expr.selectionStart, b = expr.selectionEnd;
      expr.value = expr.value.slice(0, a) + m + expr.value.slice(b);
      expr.focus();
      expr.setSelectionRange(a + m.length, a + m.length);
    });

    var tabGraph = el('button', { id: 'tab-graph' + S, text: 'Graph' });
    var tabTable = el('button', { id: 'tab-table' + S, text: 'Table' });

    var rangeIn = el('input', { type: 'text', id: 'range' + S, list: 'range-list' + S, title: 'Range, e.g. 1h, 2d, 1w' });
    rangeIn.value = st.range;
    var rangeList = el('datalist', { id: 'range-list' + S });
    RANGES.forEach(function (r) { rangeList.appendChild(el('option', { value: r })); });
    var endIn = el('input', { type: 'text', id: 'end' + S, class: 'wide', placeholder: 'End time: now (UTC)' });
    endIn.value = st.end;
    var stepIn = el('input', { type: 'text', id: 'step' + S, placeholder: 'Res. (s)', title: 'Resolution: a step in seconds or a duration' });
    stepIn.value = st.step;
    var momentIn = el('input', { type: 'text', id: 'moment' + S, class: 'wide', placeholder: 'now (UTC)' });
    momentIn.value = st.moment;

    function shiftRange(dir) {
      var r = parseDuration(rangeIn.value) || 3600;
      var i = 0;
      while (i < RANGES.length && parseDuration(RANGES[i]) < r) i++;
      i = Math.max(0, Math.min(RANGES.length - 1, i + dir));
      if (dir > 0 && parseDuration(RANGES[i]) <= r && i < RANGES.length - 1) i++;
      rangeIn.value = RANGES[i];
      run();
    }
    function shiftEnd(dir) {
      var r = parseDuration(rangeIn.value) || 3600;
      var end = parseTime(endIn.value) || Date.now() / 1000;
      end += dir * r / 2;
      endIn.value = end >= Date.now() / 1000 ? '' : formatTime(Math.round(end));
      run();
    }

    var graphControls = el('div', { class: 'controls', id: 'graph-controls' + S }, [
      el('button', { title: 'Shorter range', text: '\u2212', onclick: function () { shiftRange(-1); } }),
      rangeIn, rangeList,
      el('button', { title: 'Longer range', text: '+', onclick: function () { shiftRange(1); } }),
      el('button', { title: 'Earlier', text: '\u00ab', onclick: function () { shiftEnd(-1); } }),
      endIn,
      el('button', { title: 'Later', text: '\u00bb', onclick: function () { shiftEnd(1); } }),
      stepIn
    ]);
    var tableControls = el('div', { class: 'controls', id: 'table-controls' + S }, [
      el('span', { class: 'muted', text: 'Evaluation time' }), momentIn
    ]);
    var stats = el('span', { class: 'stats', id: 'stats' + S });
    var messages = el('div', { id: 'messages' + S });
    var output = el('div', { id: 'output' + S });

    var section = el('section', { class: 'panel', id: 'panel-' + n });
    var drop = el('button', {
      class: 'remove', title: 'Remove this panel', text: '\u00d7', onclick: function () {
        seq++;
        section.remove();
        remove();
      }
    });
    root.appendChild(section);
    [
      el('div', { class: 'exprrow' }, [expr, exec, drop]),
      el('div', { class: 'options' }, [
        el('label', {}, [dedup, 'Use deduplication']),
        el('label', {}, [partial, 'Use partial response']),
        el('label', {}, ['Max source resolution', resSel]),
        metricSel
      ]),
      el('div', { class: 'tabs' }, [tabGraph, tabTable, stats]),
      graphControls, tableControls, messages, output
    ].forEach(function (c) { section.appendChild(c); });

    function current() {
      return {
        expr: expr.value.trim(), tab: st.tab, range: rangeIn.value.trim() || '1h',
        end: endIn.value.trim(), moment: momentIn.value.trim(), step: stepIn.value.trim(),
        dedup: dedup.checked, partial: partial.checked, resolution: resSel.value
      };
    }

    function showTab() {
      tabGraph.classList.toggle('active', st.tab === 'graph');
      tabTable.classList.toggle('active', st.tab === 'table');
      graphControls.style.display = st.tab === 'graph' ? '' : 'none';
      tableControls.style.display = st.tab === 'table' ? '' : 'none';
    }

    function common(s) {
      return {
        query: s.expr,
        dedup: s.dedup ? 'true' : 'false',
        partial_response: s.partial ? 'true' : 'false',
        max_source_resolution: s.resolution
      };
    }

    function run() {
      st = current();
      save();
      showTab();
      messages.textContent = '';
      if (!st.expr) {
        output.textContent = '';
        output.appendChild(el('div', { class: 'empty', text: 'Enter an expression and press Execute.' }));
        stats.textContent = '';
        return;
      }
      var my = ++seq;
      var started = performance.now();
      var req;
      var params = common(st);
      if (st.tab === 'table') {
        var t = parseTime(st.moment);
        if (st.moment && t === null) {
          messages.appendChild(alertBox('error', 'Bad evaluation time: ' + st.moment));
          return;
        }
        if (t !== null) params.time = t;
        req = api('api/v1/query', params);
      } else {
        var range = parseDuration(st.range);
        if (!range) {
          messages.appendChild(alertBox('error', 'Bad range: ' + st.range));
          return;
        }
        var end = st.end ? parseTime(st.end) : Date.now() / 1000;
        if (end === null) {
          messages.appendChild(alertBox('error', 'Bad end time: ' + st.end));
          return;
        }
        var step = st.step ? parseDuration(st.step) : Math.max(Math.floor(range / 250), 1);
        if (!step) {
          messages.appendChild(alertBox('error', 'Bad resolution: ' + st.step));
          return;
        }
        params.start = (end - range).toFixed(3);
        params.end = end.toFixed(3);
        params.step = step;
        req = api('api/v1/query_range', params);
      }
      stats.textContent = 'Loading\u2026';
      exec.disabled = true;
      req.then(function (r) {
        if (my !== seq) return;
        stats.textContent = 'Load time: ' + Math.round(performance.now() - started) + 'ms';
        showWarnings(r.warnings, r.infos);
        output.textContent = '';
        if (st.tab === 'table') renderTable(output, r.data, S);
        else renderGraph(output, r.data, params, S);
      }, function (err) {
        if (my !== seq) return;
        stats.textContent = '';
        output.textContent = '';
        messages.appendChild(alertBox('error', 'Error executing query: ' + err.message));
        showWarnings(err.warnings || [], []);
      }).then(function () { exec.disabled = false; });
    }

    function showWarnings(ws, infos) {
      (ws || []).forEach(function (w) { messages.appendChild(alertBox('warning', 'Warning: ' + w)); });
      (infos || []).forEach(function (w) { messages.appendChild(alertBox('warning', 'Info: ' + w)); });
    }

    expr.addEventListener('keydown', function (e) {
      if (e.key === 'Enter' && !e.shiftKey) {
        e.preventDefault();
        run();
      }
    });
    expr.addEventListener('input', function () {
      expr.rows = Math.min(10, expr.value.split('\n').length);
    });
    exec.addEventListener('click', run);
    tabGraph.addEventListener('click', function () { st.tab = 'graph'; run(); });
    tabTable.addEventListener('click', function () { st.tab = 'table'; run(); });
    [rangeIn, endIn, stepIn, momentIn].forEach(function (i) {
      i.addEventListener('keydown', function (e) { if (e.key === 'Enter') run(); });
      i.addEventListener('change', run);
    });
    [dedup, partial, resSel].forEach(function (i) { i.addEventListener('change', run); });

    showTab();
    run();
    return {
      state: current,
      focus: function () { expr.focus(); }
    };
  }

  // ---- table ----

  function renderTable(out, data, S) {
    var tbl = el('table', { class: 'data', id: 'result-table' + S });
    var head = el('tr', {}, [el('th', { text: 'Series' }), el('th', { text: 'Value' })]);
    tbl.appendChild(el('thead', {}, [head]));
    var body = el('tbody');
    tbl.appendChild(body);
    var rows = 0;
    var r = data.result;
    var shown = data.resultType === 'vector' || data.resultType === 'matrix'
      ? r.slice(0, MAX_TABLE_ROWS) : r;
    switch (data.resultType) {
      case 'vector':
        shown.forEach(function (s) {
          var v = s.value ? formatValue(s.value[1]) : histogramText(s.histogram);
          body.appendChild(el('tr', {}, [el('td', {}, [seriesNode(s.metric)]),
            el('td', { class: 'value', text: v })]));
          rows++;
        });
        break;
      case 'matrix':
        shown.forEach(function (s) {
          var lines = (s.values || []).map(function (p) {
            return formatValue(p[1]) + ' @' + p[0];
          });
          body.appendChild(el('tr', {}, [el('td', {}, [seriesNode(s.metric)]),
            el('td', { class: 'value' }, lines.map(function (l) { return el('div', { text: l }); }))]));
          rows++;
        });
        break;
      case 'scalar':
        body.appendChild(el('tr', {}, [el('td', { class: 'muted', text: 'scalar' }),
          el('td', { class: 'value', text: formatValue(r[1]) })]));
        rows = 1;
        break;
      case 'string':
        body.appendChild(el('tr', {}, [el('td', { class: 'muted', text: 'string' }),
          el('td', { class: 'value', text: r[1] })]));
        rows = 1;
        break;
    }
    if (!rows) {
      out.appendChild(el('div', { class: 'empty', id: 'no-data' + S, text: 'Empty query result' }));
      return;
    }
    out.appendChild(tbl);
    if (shown.length < r.length) {
      out.appendChild(alertBox('warning', 'Showing the first ' + shown.length + ' of ' +
        r.length + ' series.'));
    }
  }

  function histogramText(h) {
    if (!h || !h[1]) return '';
    return 'count=' + h[1].count + ' sum=' + h[1].sum;
  }

  // ---- graph ----

  function niceStep(span, target) {
    var raw = span / Math.max(target, 1);
    var mag = Math.pow(10, Math.floor(Math.log10(raw)));
    var f = raw / mag;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10) * mag;
  }

  var TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600,
    7200, 10800, 21600, 43200, 86400, 172800, 604800, 1209600, 2592000];

  function timeTicks(t0, t1, target) {
    var want = (t1 - t0) / target, step = TIME_STEPS[TIME_STEPS.length - 1];
    for (var i = 0; i < TIME_STEPS.length; i++) {
      if (TIME_STEPS[i] >= want) { step = TIME_STEPS[i]; break; }
    }
    var ticks = [];
    for (var t = Math.ceil(t0 / step) * step; t <= t1; t += step) ticks.push(t);
    return { ticks: ticks, step: step };
  }

  function timeLabel(t, step, span) {
    var s = formatTime(t);
    if (span > 86400 * 2) return s.slice(5, step >= 86400 ? 10 : 16);
    if (step < 60) return s.slice(11, 19);
    return s.slice(11, 16);
  }

  function renderGraph(out, data, params, S) {
    if (data.resultType !== 'matrix') {
      out.appendChild(alertBox('warning', 'The graph needs a range vector result; got ' + data.resultType + '.'));
      return;
    }
    var series = data.result.filter(function (s) { return s.values && s.values.length; });
    if (!series.length) {
      out.appendChild(el('div', { class: 'empty', id: 'no-data' + S, text: 'Empty query result' }));
      return;
    }
    var truncated = series.length > MAX_SERIES_DRAWN;
    if (truncated) series = series.slice(0, MAX_SERIES_DRAWN);
    var t0 = +params.start, t1 = +params.end;
    var vmin = Infinity, vmax = -Infinity;
    series.forEach(function (s, i) {
      s.color = COLORS[i % COLORS.length];
      s.pts = s.values.map(function (p) { return [p[0], parseFloat(p[1])]; });
      s.pts.forEach(function (p) {
        if (isFinite(p[1])) {
          if (p[1] < vmin) vmin = p[1];
          if (p[1] > vmax) vmax = p[1];
        }
      });
    });
    if (vmin === Infinity) { vmin = 0; vmax = 1; }
    if (vmin === vmax) { vmin -= Math.abs(vmin) * 0.1 || 1; vmax += Math.abs(vmax) * 0.1 || 1; }
    var vstep = niceStep(vmax - vmin, 6);
    vmin = Math.floor(vmin / vstep) * vstep;
    vmax = Math.ceil(vmax / vstep) * vstep;

    var W = Math.max(480, out.clientWidth || 900), H = 340;
    var L = 64, R = 16, T = 12, B = 28, pw = W - L - R, ph = H - T - B;
    var x = function (t) { return L + (t - t0) / (t1 - t0) * pw; };
    var y = function (v) { return T + (vmax - v) / (vmax - vmin) * ph; };

    var root = svg('svg', { viewBox: '0 0 ' + W + ' ' + H, width: W, height: H, id: 'graph-svg' + S, role: 'img' });
    var grid = svg('g', { class: 'grid' }), axis = svg('g', { class: 'axis' });
    root.appendChild(grid);
    root.appendChild(axis);
    for (var v = vmin; v <= vmax + vstep / 2; v += vstep) {
      var yy = y(v).toFixed(1);
      grid.appendChild(svg('line', { x1: L, x2: W - R, y1: yy, y2: yy }));
      axis.appendChild(svg('text', { x: L - 6, y: +yy + 4, 'text-anchor': 'end', text: axisValue(v) }));
    }
    var tt = timeTicks(t0, t1, Math.max(3, Math.floor(pw / 110)));
    tt.ticks.forEach(function (t) {
      var xx = x(t).toFixed(1);
      grid.appendChild(svg('line', { x1: xx, x2: xx, y1: T, y2: T + ph }));
      axis.appendChild(svg('text', { x: xx, y: H - 8, 'text-anchor': 'middle', text: timeLabel(t, tt.step, t1 - t0) }));
    });
    root.appendChild(svg('rect', { class: 'frame', x: L, y: T, width: pw, height: ph }));

    var gap = +params.step * 1.5;
    var lines = svg('g', { class: 'lines' });
    root.appendChild(lines);
    series.forEach(function (s) {
      var d = '', prev = null;
      s.pts.forEach(function (p) {
        if (!isFinite(p[1])) { prev = null; return; }
        var cmd = prev === null || p[0] - prev > gap ? 'M' : 'L';
        d += cmd + x(p[0]).toFixed(1) + ' ' + y(p[1]).toFixed(1);
        prev = p[0];
      });
      if (s.pts.length === 1 || /^M[^L]*$/.test(d)) {
        s.pts.forEach(function (p) {
          if (isFinite(p[1])) lines.appendChild(svg('circle', { cx: x(p[0]), cy: y(p[1]), r: 2, fill: s.color }));
        });
      }
      s.path = svg('path', { class: 'line', d: d, stroke: s.color });
      lines.appendChild(s.path);
    });

    var hoverLine = svg('line', { class: 'hover-line', y1: T, y2: T + ph, visibility: 'hidden' });
    root.appendChild(hoverLine);
    var chart = el('div', { class: 'chart', id: 'graph' + S });
    var tip = el('div', { class: 'tooltip', id: 'tooltip' + S });
    tip.style.display = 'none';
    chart.appendChild(root);
    chart.appendChild(tip);
    out.appendChild(chart);

    root.addEventListener('mousemove', function (e) {
      var box = root.getBoundingClientRect();
      var px = (e.clientX - box.left) * W / box.width;
      if (px < L || px > W - R) { hide(); return; }
      var t = t0 + (px - L) / pw * (t1 - t0);
      var rows = [], at = null;
      series.forEach(function (s) {
        if (s.off) return;
        var p = nearest(s.pts, t);
        if (!p || Math.abs(p[0] - t) > gap) return;
        if (at === null || Math.abs(p[0] - t) < Math.abs(at - t)) at = p[0];
        rows.push({ s: s, v: p[1] });
      });
      if (!rows.length) { hide(); return; }
      rows.sort(function (a, b) { return b.v - a.v; });
      hoverLine.setAttribute('x1', x(at));
      hoverLine.setAttribute('x2', x(at));
      hoverLine.setAttribute('visibility', 'visible');
      tip.textContent = '';
      tip.appendChild(el('div', { class: 't', text: formatTime(at) + ' UTC' }));
      rows.slice(0, 12).forEach(function (r) {
        var sw = el('span', { class: 'swatch' });
        sw.style.background = r.s.color;
        tip.appendChild(el('div', { class: 'row' }, [sw, el('b', { text: formatValue(r.v) }), seriesText(r.s.metric)]));
      });
      if (rows.length > 12) tip.appendChild(el('div', { class: 't', text: '\u2026 ' + (rows.length - 12) + ' more' }));
      tip.style.display = '';
      var cx = e.clientX - box.left, cy = e.clientY - box.top;
      var left = cx + 14;
      if (left + tip.offsetWidth > box.width) left = Math.max(0, cx - 14 - tip.offsetWidth);
      tip.style.left = left + 'px';
      tip.style.top = Math.max(0, cy - tip.offsetHeight / 2) + 'px';
    });
    root.addEventListener('mouseleave', hide);
    function hide() {
      tip.style.display = 'none';
      hoverLine.setAttribute('visibility', 'hidden');
    }

    var legend = el('ul', { class: 'legend', id: 'legend' + S });
    series.forEach(function (s) {
      var sw = el('span', { class: 'swatch' });
      sw.style.background = s.color;
      var li = el('li', { title: 'Click to hide or show' }, [sw, seriesNode(s.metric)]);
      li.addEventListener('click', function () {
        s.off = !s.off;
        li.classList.toggle('off', s.off);
        s.path.style.display = s.off ? 'none' : '';
      });
      legend.appendChild(li);
    });
    out.appendChild(legend);
    if (truncated) {
      out.appendChild(alertBox('warning', 'Showing the first ' + MAX_SERIES_DRAWN + ' of ' +
        data.result.length + ' series.'));
    }
  }

  // The point of pts (sorted by time) nearest to t.
  function nearest(pts, t) {
    var lo = 0, hi = pts.length - 1;
    if (hi < 0) return null;
    while (lo < hi) {
      var mid = (lo + hi) >> 1;
      if (pts[mid][0] < t) lo = mid + 1;
      else hi = mid;
    }
    if (lo > 0 && Math.abs(pts[lo - 1][0] - t) < Math.abs(pts[lo][0] - t)) lo--;
    return pts[lo];
  }

  // ---- stores (/stores) ----

  function ago(iso) {
    var t = Date.parse(iso);
    if (!isFinite(t) || t <= 0) return 'never';
    var s = Math.max(0, (Date.now() - t) / 1000);
    return (s < 1 ? s.toFixed(2) + 's' : formatDuration(Math.round(s))) + ' ago';
  }

  function msTime(ms) {
    if (ms === undefined || ms === null) return '';
    if (ms <= -9223372036854 || ms <= -62135596800000) return '-\u221e';
    if (ms >= 9223372036854 || ms >= 253402300799000) return '+\u221e';
    return formatTime(ms / 1000);
  }

  function storesPage(root) {
    var box = el('div', { id: 'stores' });
    var bar = el('div', { class: 'controls' }, [
      el('button', { text: 'Refresh', onclick: load }),
      el('span', { class: 'stats', id: 'stores-stats' })
    ]);
    root.appendChild(bar);
    root.appendChild(box);
    function load() {
      api('api/v1/stores').then(function (r) {
        box.textContent = '';
        var types = Object.keys(r.data || {}).sort();
        var n = 0;
        types.forEach(function (type) {
          var list = r.data[type] || [];
          n += list.length;
          var tbl = el('table', { class: 'data store-table' });
          tbl.appendChild(el('thead', {}, [el('tr', {}, ['Endpoint', 'Status', 'Announced label sets',
            'Min time (UTC)', 'Max time (UTC)', 'Last check', 'Last error'].map(function (h) {
            return el('th', { text: h });
          }))]));
          var body = el('tbody');
          list.forEach(function (s) {
            var sets = el('td');
            (s.labelSets || []).forEach(function (ls) {
              sets.appendChild(el('span', { class: 'labelset', text: seriesText(ls) }));
            });
            if (!(s.labelSets || []).length) sets.appendChild(el('span', { class: 'muted', text: 'none' }));
            body.appendChild(el('tr', {}, [
              el('td', { class: 'series', text: s.name }),
              el('td', {}, [el('span', { class: 'badge ' + (s.lastError ? 'down' : 'up'), text: s.lastError ? 'Down' : 'Up' })]),
              sets,
              el('td', { text: msTime(s.minTime) }),
              el('td', { text: msTime(s.maxTime) }),
              el('td', { text: ago(s.lastCheck) }),
              el('td', { class: s.lastError ? 'store-error' : 'muted', text: s.lastError || '\u2014' })
            ]));
          });
          tbl.appendChild(body);
          box.appendChild(el('section', { class: 'panel' }, [el('h2', { text: type }), tbl]));
        });
        if (!n) box.appendChild(el('div', { class: 'panel empty', id: 'no-stores', text: 'No store endpoints are configured or discovered.' }));
        document.getElementById('stores-stats').textContent = n + ' endpoint' + (n === 1 ? '' : 's') +
          ', updated ' + formatTime(Math.round(Date.now() / 1000)) + ' UTC';
      }, function (err) {
        box.textContent = '';
        box.appendChild(alertBox('error', 'Error fetching stores: ' + err.message));
      });
    }
    load();
  }

  // ---- start ----

  var root = document.getElementById('app');
  root.textContent = '';
  var page = /\/stores\/?$/.test(location.pathname) ? 'stores' : 'graph';
  var nav = document.getElementById('nav-' + page);
  if (nav) nav.classList.add('active');
  document.title = (page === 'stores' ? 'Stores' : 'Query') + ' \u00b7 thanosc';
  if (page === 'stores') storesPage(root);
  else graphPage(root);
})();
