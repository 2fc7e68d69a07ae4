/* What bindgen reads when the DOCA SDK is installed: the SDK's own headers
 * (and what they include). Without the SDK, build.rs reads
 * decl/doca_min.h instead. */
#include <doca_error.h>
#include <doca_dev.h>
#include <doca_flow.h>
#include <doca_flow_crypto.h>
