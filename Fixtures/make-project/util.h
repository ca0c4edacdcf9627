int clamp(int v, int lo, int hi);
long sum_of_squares(int n);
