// thanosc block viewer: the blocks of a bucket (view=global) or the ones a
// compactor has loaded (view=loaded), from api/v1/blocks, drawn on a shared
// UTC time axis. One row per external label set and resolution; blocks
// that overlap in a row get lanes of their own. A block's details open on
// click, or on load when the URL hash is its ULID (#01H...). The query
// string may preset the filter (?filter=east&hide-l1=1). No framework, no
// external assets, relative URLs only (the page lives under route prefixes).
'use strict';

(function () {
  var RES_NAMES = { 0: 'raw', 300000: '5m', 3600000: '1h' };
  var TICK_STEPS = [60e3, 300e3, 900e3, 1800e3, 3600e3, 7200e3, 21600e3,
    43200e3, 864e5, 1728e5, 6048e5, 12096e5, 2592e6, 7776e6, 31536e6];
  var LANE_H = 22;

  var state = { blocks: [], label: '', selected: null };
  var $ = function (id) { return document.getElementById(id); };

  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      var v = attrs[k];
      if (k === 'text') e.textContent = v;
      else if (k === 'class') e.className = v;
      else if (k.slice(0, 2) === 'on') e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v);
    });
    (children || []).forEach(function (c) {
      if (c != null) {
        e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
      }
    });
    return e;
  }

  function pad(n) { return (n < 10 ? '0' : '') + n; }
  function iso(ms) {
    var d = new Date(ms);
    return isNaN(d.getTime()) ? String(ms) : d.toISOString();
  }

  // 2h, 1d12h, 5m: the largest units first, at most two of them.
  function duration(ms) {
    var units = [['d', 864e5], ['h', 36e5], ['m', 6e4], ['s', 1e3]];
    var out = [];
    units.forEach(function (u) {
      if (out.length < 2 && ms >= u[1]) {
        out.push(Math.floor(ms / u[1]) + u[0]);
        ms %= u[1];
      }
    });
    return out.join('') || ms + 'ms';
  }

  function resName(r) {
    r = r || 0;
    return RES_NAMES[r] || duration(r);
  }

  function bytes(n) {
    var u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'], i = 0, v = n;
    while (v >= 1024 && i < u.length - 1) { v /= 1024; i++; }
    return (i ? v.toFixed(1) + ' ' : v + ' ') + u[i] +
      (i ? ' (' + n + ' bytes)' : '');
  }

  function labelsOf(b) { return (b.thanos && b.thanos.labels) || {}; }
  function resOf(b) {
    return (b.thanos && b.thanos.downsample &&
      b.thanos.downsample.resolution) || 0;
  }
  function levelOf(b) { return (b.compaction && b.compaction.level) || 1; }

  // {a="b", c="d"}, names sorted, values quoted as PromQL would.
  function labelString(ls) {
    return '{' + Object.keys(ls).sort().map(function (k) {
      return k + '=' + JSON.stringify(String(ls[k]));
    }).join(', ') + '}';
  }

  function rowTitle(ls) {
    var l = state.label;
    return l && Object.prototype.hasOwnProperty.call(ls, l) ?
      String(ls[l]) : labelString(ls);
  }

  // Rows keyed by label set and resolution, each with its blocks in lanes:
  // a block goes to the first lane whose last block ended by its start.
  function buildRows(blocks) {
    var byKey = {};
    blocks.forEach(function (b) {
      var ls = labelsOf(b), key = labelString(ls) + '@' + resOf(b);
      if (!byKey[key]) {
        byKey[key] = { title: rowTitle(ls), labels: labelString(ls),
          res: resOf(b), blocks: [] };
      }
      byKey[key].blocks.push(b);
    });
    var rows = Object.keys(byKey).map(function (k) { return byKey[k]; });
    rows.sort(function (a, b) {
      return a.title < b.title ? -1 : a.title > b.title ? 1 :
        a.labels < b.labels ? -1 : a.labels > b.labels ? 1 : a.res - b.res;
    });
    rows.forEach(function (r) {
      var ends = [];
      r.blocks.sort(function (a, b) {
        return a.minTime - b.minTime || b.maxTime - a.maxTime;
      });
      r.lanes = r.blocks.map(function (b) {
        for (var i = 0; i < ends.length; i++) {
          if (ends[i] <= b.minTime) break;
        }
        ends[i] = b.maxTime;
        return i;
      });
      r.nlanes = ends.length;
    });
    return rows;
  }

  function visibleRows() {
    var f = $('filter').value.trim().toLowerCase();
    var hide = $('hide-l1').checked;
    var blocks = state.blocks.filter(function (b) {
      return !hide || levelOf(b) > 1;
    });
    return buildRows(blocks).filter(function (r) {
      return !f || r.title.toLowerCase().indexOf(f) >= 0 ||
        r.labels.toLowerCase().indexOf(f) >= 0;
    });
  }

  // About six ticks on round UTC times across [t0, t1].
  function ticks(t0, t1) {
    var step = TICK_STEPS[TICK_STEPS.length - 1];
    for (var i = 0; i < TICK_STEPS.length; i++) {
      if ((t1 - t0) / TICK_STEPS[i] <= 7) { step = TICK_STEPS[i]; break; }
    }
    var out = [];
    for (var t = Math.ceil(t0 / step) * step; t <= t1; t += step) {
      var d = new Date(t), day = d.getUTCFullYear() + '-' +
        pad(d.getUTCMonth() + 1) + '-' + pad(d.getUTCDate());
      var hm = pad(d.getUTCHours()) + ':' + pad(d.getUTCMinutes());
      out.push({ t: t, text: step >= 864e5 ? day : day.slice(5) + ' ' + hm });
    }
    return out;
  }

  function draw() {
    var box = $('timeline');
    box.textContent = '';
    if (!state.blocks.length) {
      box.appendChild(el('p', { class: 'empty', id: 'no-blocks',
        text: 'No blocks in the ' + $('view').textContent + ' view.' }));
      $('summary').textContent = '';
      return;
    }
    var t0 = Infinity, t1 = -Infinity;
    state.blocks.forEach(function (b) {
      t0 = Math.min(t0, b.minTime);
      t1 = Math.max(t1, b.maxTime);
    });
    if (t1 <= t0) t1 = t0 + 1;
    var pct = function (t) { return (t - t0) / (t1 - t0) * 100 + '%'; };
    var rows = visibleRows(), shown = 0;

    var grid = el('div', { class: 'grid', 'aria-hidden': 'true' });
    var axis = el('div', { class: 'track' });
    ticks(t0, t1).forEach(function (k) {
      grid.appendChild(el('div', { class: 'gridline',
        style: 'left:' + pct(k.t) }));
      axis.appendChild(el('span', { style: 'left:' + pct(k.t),
        class: (k.t - t0) / (t1 - t0) > 0.9 ? 'tick end' : 'tick',
        'data-time': iso(k.t), text: k.text }));
    });
    box.appendChild(grid);
    box.appendChild(el('div', { class: 'axis' }, [
      el('div', { class: 'row-title muted', text: 'UTC' }), axis]));

    rows.forEach(function (r) {
      var track = el('div', { class: 'track',
        style: 'height:' + (r.nlanes * LANE_H + 4) + 'px' });
      r.blocks.forEach(function (b, i) {
        var lvl = levelOf(b);
        var node = el('div', {
          class: 'block level-' + Math.min(lvl, 4) +
            (b.ulid === state.selected ? ' selected' : ''),
          'data-ulid': b.ulid, 'data-level': lvl,
          style: 'left:' + pct(b.minTime) + ';width:' +
            pct(t0 + b.maxTime - b.minTime) + ';top:' +
            (r.lanes[i] * LANE_H + 2) + 'px',
          role: 'button', tabindex: '0',
          title: b.ulid + '\n' + iso(b.minTime) + ' .. ' + iso(b.maxTime) +
            '\nlevel ' + lvl,
          onclick: function () { select(b.ulid, true); },
          onkeydown: function (ev) {
            if (ev.key === 'Enter' || ev.key === ' ') {
              ev.preventDefault();
              select(b.ulid, true);
            }
          }
        });
        track.appendChild(node);
        shown++;
      });
      var head = el('div', { class: 'row-title', title: r.labels }, [
        el('span', { class: 'name', text: r.title }), ' ',
        el('span', { class: 'res', text: resName(r.res) })]);
      if (r.title !== r.labels) {
        head.appendChild(el('div', { class: 'ls', text: r.labels }));
      }
      box.appendChild(el('div', { class: 'row', 'data-title': r.title,
        'data-resolution': resName(r.res) }, [head, track]));
    });
    if (!rows.length) {
      box.appendChild(el('p', { class: 'empty', id: 'no-match',
        text: 'No blocks match the filter.' }));
    }
    $('summary').textContent = shown + ' of ' + state.blocks.length +
      ' blocks, ' + rows.length + ' row' + (rows.length === 1 ? '' : 's');
  }

  function field(name, key, value) {
    return [el('dt', { text: name }),
      el('dd', { 'data-field': key, text: String(value) })];
  }

  function showDetails(b) {
    var box = $('details'), st = b.stats || {}, th = b.thanos || {};
    var comp = b.compaction || {};
    box.textContent = '';
    box.hidden = false;
    var f = [
      field('ULID', 'ulid', b.ulid),
      field('Start', 'start', iso(b.minTime)),
      field('End', 'end', iso(b.maxTime)),
      field('Duration', 'duration', duration(b.maxTime - b.minTime)),
      field('Series', 'series', st.numSeries == null ? '-' : st.numSeries),
      field('Samples', 'samples', st.numSamples == null ? '-' : st.numSamples),
      field('Chunks', 'chunks', st.numChunks == null ? '-' : st.numChunks),
      field('Level', 'level', levelOf(b)),
      field('Resolution', 'resolution', resName(resOf(b))),
      field('Source', 'source', th.source || '-'),
      field('Labels', 'labels', labelString(labelsOf(b))),
      field('Sources', 'sources', (comp.sources || []).length)
    ];
    if (comp.parents && comp.parents.length) {
      f.push(field('Parents', 'parents', comp.parents.map(function (p) {
        return p.ulid;
      }).join(', ')));
    }
    if (th.files && th.files.length) {
      var n = th.files.reduce(function (s, x) {
        return s + (x.size_bytes || 0);
      }, 0);
      f.push(field('Size', 'size', bytes(n) + ' in ' + th.files.length +
        ' file' + (th.files.length === 1 ? '' : 's')));
    }
    var dl = el('dl', {});
    f.forEach(function (p) { dl.appendChild(p[0]); dl.appendChild(p[1]); });
    box.appendChild(el('div', { class: 'bv-head' }, [
      el('h2', { text: 'Block ' + b.ulid }),
      el('button', { type: 'button', id: 'close-details', text: 'Close',
        onclick: function () { select(null, true); } })]));
    box.appendChild(dl);
  }

  // Opens (or with null closes) a block's details; the hash follows.
  function select(ulid, setHash) {
    var b = null;
    state.blocks.forEach(function (x) { if (x.ulid === ulid) b = x; });
    state.selected = b ? ulid : null;
    Array.prototype.forEach.call(document.querySelectorAll('.block'),
      function (n) {
        n.classList.toggle('selected', n.getAttribute('data-ulid') === ulid);
      });
    if (b) showDetails(b);
    else $('details').hidden = true;
    if (b && setHash) $('details').scrollIntoView({ block: 'nearest' });
    if (setHash && history.replaceState) {
      history.replaceState(null, '', b ? '#' + ulid :
        location.pathname + location.search);
    }
  }

  function showError(msg) {
    var e = $('error');
    e.textContent = msg;
    e.hidden = !msg;
  }

  function load() {
    var view = $('view').textContent;
    showError('');
    return fetch('api/v1/blocks?view=' + view,
      { headers: { Accept: 'application/json' } })
      .then(function (res) {
        return res.text().then(function (body) {
          var j = null;
          try { j = JSON.parse(body); } catch (e) { /* not JSON */ }
          if (!res.ok || !j || j.status !== 'success') {
            var why = j && j.error ? (j.errorType ? j.errorType + ': ' : '') +
              j.error : body.trim().slice(0, 300) || res.statusText;
            throw new Error('HTTP ' + res.status + (j ? '' : ', not JSON') +
              ': ' + why);
          }
          return j.data || {};
        });
      })
      .then(function (d) {
        state.blocks = (d.blocks || []).filter(function (b) {
          return b && b.ulid;
        });
        state.label = d.label || '';
        $('refreshed').textContent = d.refreshedAt ?
          'Refreshed at ' + d.refreshedAt : '';
        var re = $('refresh-error');
        re.textContent = d.err ? 'Last refresh failed: ' + d.err : '';
        re.hidden = !d.err;
        $('timeline-panel').hidden = false;
        draw();
        select(location.hash.slice(1) || state.selected, false);
      })
      .catch(function (err) {
        state.blocks = [];
        $('timeline').textContent = '';
        $('timeline-panel').hidden = true;
        $('details').hidden = true;
        showError('Error loading blocks: ' + err.message);
      });
  }

  var view = /\/loaded\/?$/.test(location.pathname) ? 'loaded' : 'global';
  $('view').textContent = view;
  $('nav-' + view).classList.add('active');
  $('nav-' + view).setAttribute('aria-current', 'page');
  document.title = 'Blocks (' + view + ') \u00b7 thanosc';
  var q = new URLSearchParams(location.search);
  $('filter').value = q.get('filter') || '';
  $('hide-l1').checked = q.get('hide-l1') === '1';
  $('filter').addEventListener('input', draw);
  $('hide-l1').addEventListener('change', draw);
  $('reload').addEventListener('click', load);
  window.addEventListener('hashchange', function () {
    select(location.hash.slice(1), false);
  });
  load();
})();
