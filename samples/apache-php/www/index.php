<?php
// Answers only when PHP runs with the mbstring extension, a shared object loaded by name from
// an ini file: mb_strtoupper maps "ß" to "SS", which strtoupper cannot.
header('Content-Type: text/plain; charset=UTF-8');
echo "sapi: ", php_sapi_name(), "\n";
echo "php: ", PHP_MAJOR_VERSION, ".", PHP_MINOR_VERSION, "\n";
echo "mbstring: ", mb_strtoupper("grüße aus dem container"), "\n";
echo "length: ", mb_strlen("grüße"), "\n";
