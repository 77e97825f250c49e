/* The visual rule builder of the segment form: a tree of groups (all / any, each can be
 * negated) and conditions (field → operator allowed for its type → a value input fitting both),
 * kept in step with the rule's JSON textarea both ways. The textarea stays what the form
 * submits; typing in it redraws the builder as soon as the JSON is a rule the builder can show.
 * Each change fires "rulechange" on the textarea, which the "Check and count" button listens
 * to (htmx, debounced) for the live count. No inline script or style: the page's CSP allows
 * none. The catalogue and every label come from the page (json_script "segment-catalogue"). */
(function () {
  "use strict";

  var root = document.getElementById("rule-builder");
  var data = document.getElementById("segment-catalogue");
  if (!root || !data) return;
  var textarea = document.getElementById(root.dataset.rule);
  if (!textarea) return;
  var cat = JSON.parse(data.textContent);
  var L = cat.labels;
  var tree = root.querySelector(".rule-builder-tree");
  var notice = root.querySelector(".rule-builder-notice");
  var fields = {};
  cat.fields.forEach(function (f) { fields[f.name] = f; });
  var model = null;
  var uid = 0;

  function Unsupported() {}

  /* ---- JSON ⇄ model ---------------------------------------------------------------- */

  function isObject(v) { return v !== null && typeof v === "object" && !Array.isArray(v); }

  function fromJson(j) {
    if (!isObject(j)) throw new Unsupported();
    var keys = Object.keys(j);
    if (keys.length === 1 && keys[0] === "not") {
      var inner = fromJson(j.not);
      if (inner.neg) return { t: "group", op: "all", children: [inner], neg: true };
      inner.neg = true;
      return inner;
    }
    if (keys.length === 1 && (keys[0] === "all" || keys[0] === "any")) {
      if (!Array.isArray(j[keys[0]])) throw new Unsupported();
      return { t: "group", op: keys[0], children: j[keys[0]].map(fromJson), neg: false };
    }
    if (keys.length === 1 && keys[0] === "segment" && typeof j.segment === "string") {
      return { t: "seg", slug: j.segment, neg: false };
    }
    if ("field" in j && "op" in j && typeof j.field === "string" && typeof j.op === "string") {
      keys.forEach(function (k) {
        if (k !== "field" && k !== "op" && k !== "value") throw new Unsupported();
      });
      return { t: "cond", field: j.field, op: j.op, value: j.value, neg: false };
    }
    throw new Unsupported();
  }

  function toJson(n) {
    var out;
    if (n.t === "group") {
      out = {};
      out[n.op] = n.children.map(toJson);
    } else if (n.t === "seg") {
      out = { segment: n.slug };
    } else {
      out = { field: n.field, op: n.op };
      if (n.value !== undefined && n.op !== "is_set" && n.op !== "is_not_set") out.value = n.value;
    }
    return n.neg ? { not: out } : out;
  }

  function typeOf(name) { return fields[name] ? fields[name].type : "text"; }
  function opsFor(name) { return cat.ops[typeOf(name)] || []; }

  function defaultValue(type, op) {
    if (op === "within") return { days: 30 };
    if (op === "in_window") return { from: "-90d", to: "-30d" };
    if (type === "bool" && (op === "=" || op === "!=")) return true;
    return undefined;
  }

  function newCondition() {
    var first = cat.fields[0];
    var op = opsFor(first.name)[0];
    return { t: "cond", field: first.name, op: op, value: defaultValue(first.type, op), neg: false };
  }

  /* ---- values as typed ------------------------------------------------------------- */

  function scalar(type, text) {
    var s = String(text).trim();
    if (s === "") return null;
    if (type === "int" || type === "float") {
      var n = Number(s);
      return isFinite(n) ? n : s;
    }
    return s;
  }

  function shown(v) { return v === null || v === undefined ? "" : String(v); }

  /* ---- drawing ----------------------------------------------------------------------- */

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function control(tag, id, label, cls) {
    var e = el(tag, cls);
    e.id = "rb-" + id;
    e.setAttribute("aria-label", label);
    return e;
  }

  function option(select, value, text, selected) {
    var o = el("option", null, text);
    o.value = value;
    if (selected) o.selected = true;
    select.appendChild(o);
  }

  function button(id, text, cls, onClick) {
    var b = el("button", "secondary rb-button " + (cls || ""), text);
    b.type = "button";
    b.id = "rb-" + id;
    b.addEventListener("click", onClick);
    return b;
  }

  function input(id, label, value, kind, onInput) {
    var i = control("input", id, label, "rb-input");
    i.type = kind || "text";
    if (kind === "number") i.step = "any";
    i.value = shown(value);
    i.addEventListener("input", function () { onInput(i.value); changed(false); });
    return i;
  }

  function negation(node, id) {
    var wrap = el("label", "rb-not");
    var box = el("input");
    box.type = "checkbox";
    box.id = "rb-" + id + "-not";
    box.checked = !!node.neg;
    box.addEventListener("change", function () { node.neg = box.checked; changed(true); });
    wrap.appendChild(box);
    wrap.appendChild(document.createTextNode(" " + L.not));
    return wrap;
  }

  function valueInputs(node, id) {
    var type = typeOf(node.field);
    var op = node.op;
    var box = el("span", "rb-value");
    var numeric = type === "int" || type === "float" ? "number" : "text";
    var hint = type === "date" ? L.date : L.value;
    if (op === "is_set" || op === "is_not_set") return box;
    if (op === "between") {
      var pair = Array.isArray(node.value) ? node.value.slice(0, 2) : [null, null];
      node.value = pair;
      [0, 1].forEach(function (k) {
        var i = input(id + "-v" + k, k ? L.high : L.low, pair[k], numeric, function (t) {
          node.value[k] = scalar(type, t);
        });
        if (type === "date") i.placeholder = L.date;
        box.appendChild(i);
        if (!k) box.appendChild(el("span", "rb-and", "–"));
      });
      return box;
    }
    if (op === "in" || op === "not_in") {
      var list = Array.isArray(node.value) ? node.value : [];
      var l = input(id + "-v", L.list, list.join(", "), "text", function (t) {
        node.value = t.split(",").map(function (p) { return scalar(type, p); })
          .filter(function (p) { return p !== null; });
      });
      l.placeholder = L.list;
      l.classList.add("rb-wide");
      box.appendChild(l);
      return box;
    }
    if (op === "within") {
      var days = isObject(node.value) ? node.value.days : 30;
      box.appendChild(input(id + "-v", L.days, days, "number", function (t) {
        node.value = { days: scalar("int", t) };
      }));
      box.appendChild(el("span", "rb-unit", L.days));
      return box;
    }
    if (op === "in_window") {
      var w = isObject(node.value) ? node.value : { from: "", to: "" };
      node.value = { from: w.from, to: w.to };
      var f = input(id + "-from", L.from, w.from, "text", function (t) { node.value.from = t.trim(); });
      var t2 = input(id + "-to", L.to, w.to, "text", function (t) { node.value.to = t.trim(); });
      f.placeholder = "-90d";
      t2.placeholder = "-30d";
      box.appendChild(f);
      box.appendChild(el("span", "rb-and", "–"));
      box.appendChild(t2);
      return box;
    }
    if (type === "bool") {
      var s = control("select", id + "-v", L.value, "rb-select");
      option(s, "true", L.yes, node.value === true);
      option(s, "false", L.no, node.value === false);
      s.addEventListener("change", function () { node.value = s.value === "true"; changed(false); });
      box.appendChild(s);
      return box;
    }
    var one = input(id + "-v", hint, node.value, numeric, function (t) {
      node.value = scalar(type, t);
    });
    if (type === "date") one.placeholder = L.date;
    box.appendChild(one);
    return box;
  }

  function drawCondition(node, id, remove) {
    var row = el("div", "rb-node rb-condition");
    var field = control("select", id + "-field", L.field, "rb-select rb-field");
    var known = !!fields[node.field];
    if (!known) option(field, node.field, node.field, true);
    cat.fields.forEach(function (f) {
      option(field, f.name, f.label + " (" + f.name + ")", f.name === node.field);
    });
    field.addEventListener("change", function () {
      var before = typeOf(node.field);
      node.field = field.value;
      var type = typeOf(node.field);
      if (type !== before || opsFor(node.field).indexOf(node.op) < 0) {
        node.op = opsFor(node.field)[0];
        node.value = defaultValue(type, node.op);
      }
      changed(true);
    });
    var op = control("select", id + "-op", L.op, "rb-select rb-op");
    var ops = opsFor(node.field);
    if (ops.indexOf(node.op) < 0) option(op, node.op, node.op, true);
    ops.forEach(function (o) {
      var words = cat.opLabels[o] || o;
      option(op, o, /^[a-z_]+$/.test(o) ? words : o + "  " + words, o === node.op);
    });
    op.addEventListener("change", function () {
      var shape = function (o) {
        return ["between", "in", "not_in", "within", "in_window"].indexOf(o) >= 0 ? o : "one";
      };
      var same = shape(node.op) === shape(op.value);
      node.op = op.value;
      if (!same) node.value = defaultValue(typeOf(node.field), node.op);
      changed(true);
    });
    row.appendChild(negation(node, id));
    row.appendChild(field);
    row.appendChild(op);
    row.appendChild(valueInputs(node, id));
    if (remove) row.appendChild(button(id + "-remove", L.remove, "rb-remove", remove));
    return row;
  }

  function drawSegment(node, id, remove) {
    var row = el("div", "rb-node rb-segment");
    row.appendChild(negation(node, id));
    row.appendChild(el("span", "rb-unit", L.segment));
    var s = control("select", id + "-segment", L.segment, "rb-select");
    if (cat.segments.indexOf(node.slug) < 0) option(s, node.slug, node.slug, true);
    cat.segments.forEach(function (slug) { option(s, slug, slug, slug === node.slug); });
    s.addEventListener("change", function () { node.slug = s.value; changed(false); });
    row.appendChild(s);
    if (remove) row.appendChild(button(id + "-remove", L.remove, "rb-remove", remove));
    return row;
  }

  function drawGroup(node, id, remove) {
    var box = el("fieldset", "rb-node rb-group");
    var head = el("legend", "rb-head");
    head.appendChild(negation(node, id));
    var kind = control("select", id + "-kind", L.group, "rb-select rb-kind");
    option(kind, "all", L.all, node.op === "all");
    option(kind, "any", L.any, node.op === "any");
    kind.addEventListener("change", function () { node.op = kind.value; changed(true); });
    head.appendChild(kind);
    if (remove) head.appendChild(button(id + "-remove", L.remove, "rb-remove", remove));
    box.appendChild(head);
    if (!node.children.length) box.appendChild(el("p", "muted rb-empty", L.empty));
    node.children.forEach(function (child, k) {
      var drop = function () { node.children.splice(k, 1); changed(true); };
      box.appendChild(draw(child, id + "-" + k, drop));
    });
    var tools = el("div", "rb-tools");
    tools.appendChild(button(id + "-add", L.addCondition, "rb-add", function () {
      node.children.push(newCondition());
      changed(true, "rb-" + id + "-" + (node.children.length - 1) + "-field");
    }));
    tools.appendChild(button(id + "-add-group", L.addGroup, "rb-add-group", function () {
      node.children.push({ t: "group", op: "any", children: [newCondition()], neg: false });
      changed(true, "rb-" + id + "-" + (node.children.length - 1) + "-kind");
    }));
    if (cat.segments.length) {
      tools.appendChild(button(id + "-add-segment", L.addSegment, "rb-add-segment", function () {
        node.children.push({ t: "seg", slug: cat.segments[0], neg: false });
        changed(true, "rb-" + id + "-" + (node.children.length - 1) + "-segment");
      }));
    }
    box.appendChild(tools);
    return box;
  }

  function draw(node, id, remove) {
    if (node.t === "group") return drawGroup(node, id, remove);
    if (node.t === "seg") return drawSegment(node, id, remove);
    return drawCondition(node, id, remove);
  }

  function render(focusId) {
    var focused = focusId || (document.activeElement && document.activeElement.id);
    tree.textContent = "";
    if (model.t !== "group") model = { t: "group", op: "all", children: [model], neg: false };
    tree.appendChild(draw(model, "r", null));
    var again = focused && document.getElementById(focused);
    if (again && tree.contains(again)) again.focus();
  }

  /* ---- keeping the two in step ------------------------------------------------------- */

  function announce() {
    textarea.dispatchEvent(new CustomEvent("rulechange"));
  }

  function changed(redraw, focusId) {
    textarea.value = JSON.stringify(toJson(model), null, 2);
    if (redraw) render(focusId);
    announce();
  }

  function fromText(quiet) {
    var text = textarea.value.trim();
    try {
      var parsed = text === "" ? { all: [] } : JSON.parse(text);
      var next = fromJson(parsed);
      model = next;
      notice.hidden = true;
      tree.hidden = false;
      render();
    } catch (e) {
      if (!quiet) {
        notice.textContent = L.unsupported;
        notice.hidden = false;
        tree.hidden = true; // no builder edits over JSON being typed
      }
    }
  }

  textarea.addEventListener("input", function () {
    fromText(false);
    announce();
  });

  fromText(false);
  if (model === null) {
    model = { t: "group", op: "all", children: [], neg: false };
    tree.hidden = true;
  }
  root.hidden = false;
})();
