// trackyard serve: draws the charts of a page, and keeps a domain page (and the overview, its
// sweeps in flight) current without a reload. New HTML from /live/<domain> (or the live part's
// data-src, /live-overview) replaces the page's sections; each chart already drawn is kept and
// given its new data with Plotly.react (plotly diffs it), never drawn again.
(function () {
  'use strict';
  var config = {displaylogo: false, responsive: true, modeBarButtonsToRemove: ['sendDataToCloud']};

  function specsIn(root) {
    return Array.prototype.slice.call(root.querySelectorAll('script.chart-spec'));
  }

  function chartKey(div) {
    var section = div.closest('.section');
    return (section ? section.dataset.section + '\u0000' : '') + div.dataset.title;
  }

  function drawAll(jobs, done) {
    var job = jobs.shift();
    if (!job) { done(); return; }
    var draw = job.reuse ? Plotly.react : Plotly.newPlot;
    draw(job.div, job.fig.data, job.fig.layout, config).then(function () {
      job.div.dataset.drawn = '1';
      setTimeout(function () { drawAll(jobs, done); }, 0);
    });
  }

  function firstDraw() {
    var jobs = specsIn(document).map(function (spec) {
      return {div: document.getElementById(spec.dataset.target),
              fig: JSON.parse(spec.textContent), reuse: false};
    });
    drawAll(jobs, function () { document.body.dataset.chartsDrawn = '1'; });
  }

  // Put the new fragment in place, keeping every chart div already drawn.
  function update(live, html) {
    var drawn = {};
    Array.prototype.forEach.call(live.querySelectorAll('.chart[data-drawn="1"]'), function (div) {
      drawn[chartKey(div)] = div;
    });
    var tpl = document.createElement('template');
    tpl.innerHTML = html;
    var fresh = tpl.content;
    var jobs = specsIn(fresh).map(function (spec) {
      var placeholder = fresh.getElementById(spec.dataset.target);
      var fig = JSON.parse(spec.textContent);
      // the key needs the placeholder's section, so look it up while it is still in place
      var old = drawn[chartKey(placeholder)];
      if (old) {
        delete drawn[chartKey(placeholder)];
        old.dataset.marks = placeholder.dataset.marks;
        placeholder.replaceWith(old);
        return {div: old, fig: fig, reuse: true};
      }
      return {div: placeholder, fig: fig, reuse: false};
    });
    live.replaceChildren(fresh);
    drawAll(jobs, function () {
      document.body.dataset.updates = String(Number(document.body.dataset.updates || 0) + 1);
    });
  }

  function poll(live) {
    var every = Math.max(0.05, Number(live.dataset.refresh || 1)) * 1000;
    var busy = false;
    function tick() {
      if (busy) { return; }
      busy = true;
      var url = (live.dataset.src ? live.dataset.src + '?' :
        '/live/' + encodeURIComponent(live.dataset.domain) + '?page=' +
        encodeURIComponent(live.dataset.page || '0') + '&') + 'v=' + encodeURIComponent(live.dataset.version);
      fetch(url, {cache: 'no-store'}).then(function (r) { return r.json(); }).then(function (body) {
        if (body.changed) {
          live.dataset.version = body.version;
          update(live, body.html);
        }
        document.body.dataset.offline = '';
      }).catch(function () {
        document.body.dataset.offline = '1';
      }).then(function () {
        busy = false;
        setTimeout(tick, every);
      });
    }
    setTimeout(tick, every);
  }

  firstDraw();
  var live = document.getElementById('live');
  if (live) { poll(live); }
  var reload = document.getElementById('reload');
  if (reload) { setTimeout(function () { location.reload(); }, 1000 * Number(reload.dataset.after)); }
})();
