// The app's map as a Streamlit component (components v1, spoken directly: the whole
// protocol is four messages, so no build step and no bundle).
//
// Python (ui/maps.py) sends, on every rerun:
//   height, center [lat, lon], zoom, tiles {url, attribution}, clickable,
//   base {url, uncluster_zoom, cluster_radius}: every restaurant as
//     [[lat, lon, tooltip]] in a JSON file beside this page, named by its contents,
//     fetched and drawn once per url,
//   layer {centre, radius, pin_tooltip, results: [[lat, lon, rank, tooltip, popup]],
//          points: [[lat, lon, colour, tooltip, radius, ring]]}
//     (the click's own layer, replaced on every render).
// Every text in it was escaped once, by ui/fmt.map_text, before it left Python.
//
// A map click is sent back at once as {last_clicked: {lat, lng}}: no debounce, and the
// pin moves before Python answers.
(function () {
  "use strict";

  var map = null;
  var base = null;
  var baseKey = null;
  var layer = null;
  var pin = null;
  var circle = null;
  var lastCenter = null;
  var frameHeight = -1;
  var clickable = true;

  function send(type, data) {
    var message = { isStreamlitMessage: true, type: type };
    for (var name in data) message[name] = data[name];
    window.parent.postMessage(message, "*");
  }

  function setHeight(height) {
    if (height !== frameHeight) {
      frameHeight = height;
      document.getElementById("map").style.height = height + "px";
      send("streamlit:setFrameHeight", { height: height });
      if (map) map.invalidateSize();
    }
  }

  function icon(html, size, className) {
    return L.divIcon({
      html: html,
      iconSize: [size, size],
      iconAnchor: [size / 2, size / 2],
      className: "leafmap-icon " + className,
    });
  }

  function create(args) {
    map = L.map("map", { preferCanvas: true, center: args.center, zoom: args.zoom });
    L.control.scale().addTo(map);
    L.tileLayer(args.tiles.url, {
      attribution: args.tiles.attribution,
      maxZoom: 19,
    }).addTo(map);
    map.on("click", function (event) {
      if (!clickable) return;
      var at = event.latlng;
      if (pin) pin.setLatLng(at);
      if (circle) circle.setLatLng(at);
      send("streamlit:setComponentValue", {
        value: { last_clicked: { lat: at.lat, lng: at.lng } },
        dataType: "json",
      });
    });
    window.addEventListener("resize", function () {
      map.invalidateSize();
    });
    lastCenter = JSON.stringify(args.center);
    window.map = map;
  }

  // A large catalogue comes as grid cells [lat, lon, tooltip, count]: one dot per cell,
  // its area growing with the count, no clustering (ui/maps.py, density_rows).
  function densityLayer(rows) {
    var most = rows.reduce(function (m, row) { return Math.max(m, row[3]); }, 1);
    return L.layerGroup(
      rows.map(function (row) {
        return L.circleMarker([row[0], row[1]], {
          radius: 3 + 13 * Math.sqrt(row[3] / most),
          weight: 0,
          fillColor: "#5470c6",
          fillOpacity: 0.35,
        }).bindTooltip(row[2]);
      })
    );
  }

  // Every place [lat, lon, tooltip] as a dot, clustered until street level.
  function clusterLayer(spec, rows) {
    var group = L.markerClusterGroup({
      disableClusteringAtZoom: spec.uncluster_zoom,
      maxClusterRadius: spec.cluster_radius,
      showCoverageOnHover: false,
      spiderfyOnMaxZoom: false,
      chunkedLoading: true,
      iconCreateFunction: function (cluster) {
        var n = cluster.getChildCount();
        var size = n < 10 ? 24 : n < 50 ? 30 : 36;
        return L.divIcon({ html: String(n), className: "bg-cluster", iconSize: L.point(size, size) });
      },
    });
    group.addLayers(
      rows.map(function (row) {
        return L.circleMarker([row[0], row[1]], {
          radius: 3.5,
          weight: 0,
          fillColor: "#5470c6",
          fillOpacity: 0.5,
        }).bindTooltip(row[2]);
      })
    );
    return group;
  }

  function drawBase(spec, rows) {
    if (base) map.removeLayer(base);
    base = spec.kind === "density" ? densityLayer(rows) : clusterLayer(spec, rows);
    base.addTo(map);
    if (window.leafmap) window.leafmap.base = base;
  }

  function loadBase(key, spec) {
    fetch(spec.url)
      .then(function (reply) {
        if (!reply.ok) throw new Error("HTTP " + reply.status);
        return reply.json();
      })
      .then(function (rows) {
        if (key === baseKey) drawBase(spec, rows); // not overtaken by a newer load
      })
      .catch(function (error) {
        console.warn("leafmap: the background places did not load:", error);
      });
  }

  function drawLayer(spec) {
    if (layer) map.removeLayer(layer);
    layer = L.featureGroup();
    pin = circle = null;
    window.leafmap = { base: base, layer: layer };
    if (!spec) return;
    (spec.points || []).forEach(function (p) {
      var ring = p[5];
      L.circleMarker([p[0], p[1]], {
        radius: p[4],
        weight: ring ? 3 : 1,
        color: ring ? "#1f2933" : "#ffffff",
        fillColor: p[2],
        fillOpacity: ring ? 0.0 : 0.85,
      })
        .bindTooltip(p[3])
        .addTo(layer);
    });
    circle = spec.radius
      ? L.circle(spec.centre, {
          radius: spec.radius,
          color: "#2ca02c",
          weight: 2,
          fill: true,
          fillOpacity: 0.06,
          interactive: false,
        }).addTo(layer)
      : null;
    pin = L.marker(spec.centre, { icon: icon("", 18, "leafmap-pin"), keyboard: false })
      .bindTooltip(spec.pin_tooltip, { sticky: true })
      .addTo(layer);
    (spec.results || []).forEach(function (r) {
      L.marker([r[0], r[1]], { icon: icon(String(r[2]), 26, "leafmap-number") })
        .bindTooltip(r[3], { sticky: true })
        .bindPopup(r[4], { maxWidth: 260 })
        .addTo(layer);
    });
    layer.addTo(map);
  }

  function render(args) {
    clickable = args.clickable !== false;
    setHeight(args.height);
    if (!map) create(args);
    if (args.base.url !== baseKey) {
      baseKey = args.base.url;
      loadBase(baseKey, args.base);
    }
    var center = JSON.stringify(args.center);
    if (center !== lastCenter) {
      lastCenter = center;
      map.panTo(args.center);
    }
    drawLayer(args.layer);
  }

  window.addEventListener("message", function (event) {
    if (event.source !== window.parent) return; // only the Streamlit page draws the map
    if (event.data && event.data.type === "streamlit:render") render(event.data.args);
  });
  send("streamlit:componentReady", { apiVersion: 1 });
})();
