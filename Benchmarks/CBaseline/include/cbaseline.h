#ifndef PARATII_CBASELINE_H
#define PARATII_CBASELINE_H
#include <stddef.h>
#include <stdint.h>

/* The physical limits our Swift code is measured against, called straight from C. */

/* OpenSSL's SHA3-256 (same Keccak-f[1600] permutation as Keccak-256, different padding). */
void cb_sha3_256(const uint8_t *data, size_t length, uint8_t out[32]);

/* libsecp256k1 called directly: `iterations` recoverable signatures of `digest`. Returns 0 on failure. */
int cb_secp256k1_sign_loop(const uint8_t seckey[32], const uint8_t digest[32], int iterations);

/* libsecp256k1 called directly: `iterations` public-key recoveries from a 65-byte r||s||recid signature. */
int cb_secp256k1_recover_loop(const uint8_t signature65[65], const uint8_t digest[32], int iterations);

#endif

#ifndef PARATII_CBASELINE_SQLITE
#define PARATII_CBASELINE_SQLITE
/* Bare SQLite: `count` transactions of one INSERT each, WAL, synchronous=FULL. Returns 0 on failure. */
int cb_sqlite_commits(const char *path, int count);

/* Bytes SQLite holds now (page caches fill up to cache_size as databases grow): the soak reports them apart. */
int64_t cb_sqlite_memory_used(void);

/* A new connection's page cache limit in KiB (PRAGMA cache_size, the build's default: the code sets none). */
int64_t cb_sqlite_default_cache_kib(void);
#endif
