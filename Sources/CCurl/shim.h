#include <curl/curl.h>

// curl_easy_setopt and curl_easy_getinfo are variadic, which Swift cannot call: one typed wrapper per
// argument kind (CairnTahoe/Curl.swift is their only caller).
static inline CURLcode cairn_curl_setopt_long(CURL *h, CURLoption o, long v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode cairn_curl_setopt_off(CURL *h, CURLoption o, curl_off_t v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode cairn_curl_setopt_string(CURL *h, CURLoption o, const char *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode cairn_curl_setopt_pointer(CURL *h, CURLoption o, void *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode cairn_curl_setopt_list(CURL *h, CURLoption o, struct curl_slist *v) { return curl_easy_setopt(h, o, v); }
typedef size_t (*cairn_curl_data_callback)(char *buffer, size_t size, size_t count, void *context);
static inline CURLcode cairn_curl_setopt_callback(CURL *h, CURLoption o, cairn_curl_data_callback f) { return curl_easy_setopt(h, o, f); }
static inline CURLcode cairn_curl_getinfo_long(CURL *h, CURLINFO i, long *v) { return curl_easy_getinfo(h, i, v); }
static inline CURLcode cairn_curl_getinfo_double(CURL *h, CURLINFO i, double *v) { return curl_easy_getinfo(h, i, v); }

// libcurl's TLS is OpenSSL, whose atexit handler frees its global state: a curl thread still inside a TLS
// read when a command exits would then crash (SIGSEGV). Cairn asks OpenSSL to register no atexit
// handler; the process ends without that cleanup, as it would on _exit.
#include <openssl/crypto.h>
static inline int cairn_openssl_no_atexit(void) { return OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, NULL); }
