const char *vendor_banner(void) { return "VendorSuite 4.2"; }
