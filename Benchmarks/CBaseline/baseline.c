#include "cbaseline.h"

#include <openssl/evp.h>
#include <secp256k1.h>
#include <secp256k1_recovery.h>

void cb_sha3_256(const uint8_t *data, size_t length, uint8_t out[32]) {
    unsigned int size = 32;
    EVP_Digest(data, length, out, &size, EVP_sha3_256(), NULL);
}

static secp256k1_context *baseline_context(void) {
    static secp256k1_context *ctx = NULL;
    if (!ctx) {
        ctx = secp256k1_context_create(SECP256K1_CONTEXT_SIGN | SECP256K1_CONTEXT_VERIFY);
    }
    return ctx;
}

int cb_secp256k1_sign_loop(const uint8_t seckey[32], const uint8_t digest[32], int iterations) {
    secp256k1_context *ctx = baseline_context();
    secp256k1_ecdsa_recoverable_signature sig;
    uint8_t compact[64];
    int recid = 0;
    for (int i = 0; i < iterations; i++) {
        if (!secp256k1_ecdsa_sign_recoverable(ctx, &sig, digest, seckey, NULL, NULL)) return 0;
        secp256k1_ecdsa_recoverable_signature_serialize_compact(ctx, compact, &recid, &sig);
    }
    return 1;
}

int cb_secp256k1_recover_loop(const uint8_t signature65[65], const uint8_t digest[32], int iterations) {
    secp256k1_context *ctx = baseline_context();
    secp256k1_ecdsa_recoverable_signature sig;
    secp256k1_pubkey key;
    uint8_t out[65];
    size_t length;
    for (int i = 0; i < iterations; i++) {
        if (!secp256k1_ecdsa_recoverable_signature_parse_compact(ctx, &sig, signature65, signature65[64])) return 0;
        if (!secp256k1_ecdsa_recover(ctx, &key, &sig, digest)) return 0;
        length = sizeof out;
        secp256k1_ec_pubkey_serialize(ctx, out, &length, &key, SECP256K1_EC_UNCOMPRESSED);
    }
    return 1;
}

#include <sqlite3.h>

int cb_sqlite_commits(const char *path, int count) {
    sqlite3 *db = NULL;
    if (sqlite3_open(path, &db) != SQLITE_OK) return 0;
    int ok = sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                              "CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT);", NULL, NULL, NULL) == SQLITE_OK;
    sqlite3_stmt *insert = NULL;
    ok = ok && sqlite3_prepare_v2(db, "INSERT INTO t (v) VALUES ('100000000000000')", -1, &insert, NULL) == SQLITE_OK;
    for (int i = 0; ok && i < count; i++) {
        ok = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK
            && sqlite3_step(insert) == SQLITE_DONE
            && sqlite3_reset(insert) == SQLITE_OK
            && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK;
    }
    sqlite3_finalize(insert);
    sqlite3_close(db);
    return ok;
}

int64_t cb_sqlite_memory_used(void) { return sqlite3_memory_used(); }

int64_t cb_sqlite_default_cache_kib(void) {
    sqlite3 *db = NULL;
    sqlite3_stmt *pragma = NULL;
    int64_t kib = -1;
    if (sqlite3_open(":memory:", &db) == SQLITE_OK
        && sqlite3_prepare_v2(db, "PRAGMA cache_size", -1, &pragma, NULL) == SQLITE_OK
        && sqlite3_step(pragma) == SQLITE_ROW) {
        int64_t size = sqlite3_column_int64(pragma, 0);
        /* Negative: KiB; positive: pages (4 KiB each by default). */
        kib = size < 0 ? -size : size * 4;
    }
    sqlite3_finalize(pragma);
    sqlite3_close(db);
    return kib;
}
