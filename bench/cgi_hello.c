/* The trivial CGI program of benchmark scenario (f). */
#include <stdio.h>

int main(void)
{
	fputs("Content-Type: text/plain\r\n\r\nhello\n", stdout);
	return 0;
}
