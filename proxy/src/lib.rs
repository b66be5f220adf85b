//! placeholder
use pingora_proxy as _;
