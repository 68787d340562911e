/*
 * errors.c — the error table (errors.def): every LDB_* code with its stable
 * name and fixed message, and ldb_strerror/ldb_code_name read from it.
 */
#include "util.h"

static const ldb_error_info err_table[] = {
#define LDB_ERROR(macro, code, name, message) {code, #name, message},
#include "errors.def"
#undef LDB_ERROR
};

_Static_assert(sizeof err_table / sizeof err_table[0] == LDB_CODE_COUNT,
               "one row per code in [0, LDB_CODE_COUNT)");

/* Each row's number is its macro's value (the rows are in code order). */
#define LDB_ERROR(macro, code, name, message)                                  \
  _Static_assert(LDB_##macro == code,                                          \
                 "errors.def: LDB_" #macro " is not " #code);
#include "errors.def"
#undef LDB_ERROR

const ldb_error_info *ldb_error_table(size_t *count) {
  if (count) *count = LDB_CODE_COUNT;
  return err_table;
}

const char *ldb_strerror(int code) {
  if (code < 0 || code >= LDB_CODE_COUNT) return "unknown error";
  return err_table[code].message;
}

const char *ldb_code_name(int code) {
  if (code < 0 || code >= LDB_CODE_COUNT) return "UNKNOWN";
  return err_table[code].name;
}
