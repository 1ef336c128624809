const char *plugin_greeting(void) { return "hello from the greet plugin"; }
