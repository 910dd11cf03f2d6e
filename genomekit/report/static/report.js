// genomekit report: navigation, sortable tables and highlighting a sample in every plot.
// The plots are static SVG; this script only adds interaction, so the page reads the
// same without it. It marks <html data-report-ready="yes"> when it has run to the end.
(function () {
  "use strict";
  var root = document.documentElement;
  window.addEventListener("error", function (event) {
    root.setAttribute("data-report-error", String(event.message || "error"));
  });

  function buildToc() {
    var toc = document.getElementById("toc");
    var sections = document.querySelectorAll("section.report-section");
    var links = [];
    sections.forEach(function (section) {
      var heading = section.querySelector("h2");
      var a = document.createElement("a");
      a.href = "#" + section.id;
      a.textContent = heading ? heading.textContent : section.id;
      toc.appendChild(a);
      links.push([section, a]);
    });
    if ("IntersectionObserver" in window) {
      var observer = new IntersectionObserver(function (entries) {
        entries.forEach(function (entry) {
          if (!entry.isIntersecting) { return; }
          links.forEach(function (pair) {
            pair[1].classList.toggle("active", pair[0] === entry.target);
          });
        });
      }, { rootMargin: "0px 0px -70% 0px" });
      links.forEach(function (pair) { observer.observe(pair[0]); });
    }
    return sections.length;
  }

  function cellValue(row, index) {
    var cell = row.cells[index];
    return cell ? cell.textContent.trim() : "";
  }

  function makeSortable(tableEl) {
    var headers = tableEl.tHead ? tableEl.tHead.rows[0].cells : [];
    Array.prototype.forEach.call(headers, function (th, index) {
      th.addEventListener("click", function () {
        var numeric = th.classList.contains("num");
        var ascending = th.getAttribute("aria-sort") !== "ascending";
        Array.prototype.forEach.call(headers, function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        var body = tableEl.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = cellValue(a, index);
          var y = cellValue(b, index);
          var cmp;
          if (numeric) {
            var nx = parseFloat(x);
            var ny = parseFloat(y);
            // NA (missing) sorts after every number, in both directions.
            if (isNaN(nx) || isNaN(ny)) { return isNaN(nx) - isNaN(ny); }
            cmp = nx - ny;
          } else {
            cmp = x.localeCompare(y);
          }
          return ascending ? cmp : -cmp;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  }

  function sampleIndex() {
    var index = {};
    document.querySelectorAll("[data-s]").forEach(function (el) {
      var name = el.getAttribute("data-s");
      (index[name] = index[name] || []).push(el);
    });
    return index;
  }

  function setupHighlight(index) {
    var current = null;
    var note = document.getElementById("search-note");
    function highlight(name) {
      if (current && index[current]) {
        index[current].forEach(function (el) { el.classList.remove("hl"); });
      }
      document.querySelectorAll("tr.selected").forEach(function (tr) {
        tr.classList.remove("selected");
      });
      current = name && index[name] ? name : null;
      if (current) {
        index[current].forEach(function (el) {
          el.classList.add("hl");
          // Draw the highlighted point last so that no other point covers it.
          el.parentNode.appendChild(el);
        });
        document.querySelectorAll("tr[data-sample]").forEach(function (tr) {
          if (tr.getAttribute("data-sample") === current) { tr.classList.add("selected"); }
        });
      }
      if (note) {
        note.textContent = !name ? "" : current
          ? index[current].length + " point(s) highlighted"
          : "not in any plot";
      }
    }
    document.querySelectorAll("tr[data-sample]").forEach(function (tr) {
      tr.addEventListener("click", function () {
        var name = tr.getAttribute("data-sample");
        highlight(current === name ? null : name);
      });
    });
    var input = document.getElementById("sample-search");
    if (input) {
      input.addEventListener("input", function () { highlight(input.value.trim()); });
    }
  }

  function addSearch() {
    var toc = document.getElementById("toc");
    var box = document.createElement("div");
    box.className = "search";
    box.innerHTML = '<label for="sample-search">Highlight a sample</label>' +
      '<input id="sample-search" type="search" placeholder="sample name" autocomplete="off">' +
      '<div id="search-note" class="search-note"></div>';
    toc.appendChild(box);
  }

  var nSections = buildToc();
  document.querySelectorAll("table.sortable").forEach(makeSortable);
  var index = sampleIndex();
  if (Object.keys(index).length) { addSearch(); }
  setupHighlight(index);
  root.setAttribute("data-report-sections", String(nSections));
  root.setAttribute("data-report-ready", "yes");
})();
