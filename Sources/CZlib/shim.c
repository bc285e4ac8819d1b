// CZlib is header-only (include/CZlib.h); SwiftPM needs one source file to build the target.
