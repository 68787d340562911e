/*
 * library_store.js — the JavaScript half of wasm/store_js.c, linked with
 * --js-library. Each import looks up a JS store object in the module's
 * registry (Module.ldbStores, filled by js/wasm/engine.ts) and calls it
 * synchronously. JS stores implement js/wasm/stores/types.ts (PageStore /
 * PageFile) and signal failure by throwing an Error whose `code` is an LDB
 * code name ('IO', 'FULL', 'NOT_FOUND', 'BUSY', ...); a DOMException named
 * QuotaExceededError counts as FULL, anything else as IO. Failures return
 * -(numeric code) and leave the message for js_store_errmsg.
 */
mergeInto(LibraryManager.library, {
  $ldbStoreCall__deps: [],
  $ldbStoreCall: function (fn) {
    // Module.ldbCodes: code numbers by name, read from ldb_error_table() by
    // js/wasm/module.ts when the module loads.
    var codes = Module.ldbCodes;
    try {
      Module.ldbLastStoreError = '';
      return fn();
    } catch (e) {
      var code = (e && typeof e.code === 'string' && codes[e.code]) || 0;
      if (!code && e && (e.name === 'QuotaExceededError' || e.code === 'ENOSPC' || e.code === 'EDQUOT')) code = codes.FULL;
      if (!code) code = codes.IO;
      Module.ldbLastStoreError = String((e && e.message) || e);
      return -code;
    }
  },

  js_store_open__deps: ['$ldbStoreCall'],
  js_store_open: function (sid, name, flags) {
    return ldbStoreCall(function () {
      return Module.ldbStores.get(sid).open(UTF8ToString(name), (flags & 1) !== 0);
    });
  },

  js_file_read__deps: ['$ldbStoreCall'],
  js_file_read: function (sid, fid, off, buf, len) {
    return ldbStoreCall(function () {
      return Module.ldbStores.get(sid).read(fid, off, HEAPU8.subarray(buf, buf + len));
    });
  },

  js_file_write__deps: ['$ldbStoreCall'],
  js_file_write: function (sid, fid, off, buf, len) {
    return ldbStoreCall(function () {
      Module.ldbStores.get(sid).write(fid, off, HEAPU8.subarray(buf, buf + len));
      return 0;
    });
  },

  js_file_sync__deps: ['$ldbStoreCall'],
  js_file_sync: function (sid, fid) {
    return ldbStoreCall(function () { Module.ldbStores.get(sid).sync(fid); return 0; });
  },

  js_file_size__deps: ['$ldbStoreCall'],
  js_file_size: function (sid, fid) {
    return ldbStoreCall(function () { return Module.ldbStores.get(sid).size(fid); });
  },

  js_file_truncate__deps: ['$ldbStoreCall'],
  js_file_truncate: function (sid, fid, size) {
    return ldbStoreCall(function () { Module.ldbStores.get(sid).truncate(fid, size); return 0; });
  },

  js_file_close__deps: ['$ldbStoreCall'],
  js_file_close: function (sid, fid) {
    return ldbStoreCall(function () { Module.ldbStores.get(sid).close(fid); return 0; });
  },

  js_store_lock__deps: ['$ldbStoreCall'],
  js_store_lock: function (sid, exclusive, holder, cap) {
    var r = ldbStoreCall(function () { Module.ldbStores.get(sid).lock(exclusive !== 0); return 0; });
    if (r === -Module.ldbCodes.BUSY && cap > 0) stringToUTF8(Module.ldbLastStoreError, holder, cap);
    return r;
  },

  js_store_unlock__deps: ['$ldbStoreCall'],
  js_store_unlock: function (sid) {
    return ldbStoreCall(function () { Module.ldbStores.get(sid).unlock(); return 0; });
  },

  js_store_remove__deps: ['$ldbStoreCall'],
  js_store_remove: function (sid, name) {
    return ldbStoreCall(function () { Module.ldbStores.get(sid).remove(UTF8ToString(name)); return 0; });
  },

  js_store_release: function (sid) {
    var s = Module.ldbStores.get(sid);
    Module.ldbStores.delete(sid);
    if (s && s.release) {
      try { s.release(); } catch (e) { /* a release failure has nobody to report to */ }
    }
  },

  js_store_errmsg: function (buf, cap) {
    stringToUTF8(Module.ldbLastStoreError || '', buf, cap);
  },
});
