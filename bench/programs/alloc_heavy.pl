# Allocation-heavy Perl workload for bench/run, tools/check-programs and
# tests/hakmem.api/hardened_programs (perl under LD_PRELOAD).
#
# Hashes with many keys, string concatenation, split and join, sorting,
# regular-expression rewriting, nested data structures and their teardown.
# Seeded (srand) and printed through sorted keys, so the output (a digest
# of the results) is the same under every allocator; bench/run and
# tools/check-programs compare it. Usage: perl alloc_heavy.pl [SCALE]
use strict;
use warnings;
use Digest::MD5 qw(md5_hex);

my $scale = @ARGV ? $ARGV[0] : 1.0;
srand(20240607);
my $ctx = Digest::MD5->new;
my $n = int(150000 * $scale);

# a big hash of records
my %people;
for my $i (1 .. $n) {
    my $name = sprintf("user-%06d", int(rand(1000000)));
    my @tags = map { "t" . int(rand(200)) } 1 .. (1 + int(rand(7)));
    $people{"$name-$i"} = { id => $i, tags => \@tags, bio => "y" x int(rand(300)),
                            score => int(rand(100000)) / 100 };
}
$ctx->add(scalar(keys %people));

# string building, split, join
my @lines;
for my $k (sort keys %people) {
    my $r = $people{$k};
    push @lines, join("|", $r->{id}, $k, join(",", @{ $r->{tags} }), $r->{score});
}
my $blob = join("\n", @lines);
my $fields = 0;
for my $line (split /\n/, $blob) {
    my @f = split /\|/, $line;
    $fields += length($f[2]);
}
$ctx->add($fields);
undef @lines;

# regex rewriting (copies of a large string)
(my $rewritten = $blob) =~ s/user-(\d+)/U$1/g;
$rewritten =~ s/\|t(\d+)/|tag$1/g;
$ctx->add(length($rewritten));
undef $blob;
undef $rewritten;

# inverted index: hash of arrays
my %index;
while (my ($k, $r) = each %people) {
    push @{ $index{$_} }, $r->{id} for @{ $r->{tags} };
}
my $sum = 0;
$sum += scalar(@{ $index{$_} }) for sort keys %index;
$ctx->add($sum);
undef %index;

# sort by score then id
my @ids = map { $_->{id} } sort { $a->{score} <=> $b->{score} || $a->{id} <=> $b->{id} } values %people;
$ctx->add(join(",", @ids[0 .. 999]));

# churn: delete most, add different shapes
my $i = 0;
for my $k (sort keys %people) {
    delete $people{$k} if $i++ % 5;
}
for my $j (1 .. $n) {
    my @row = map { $_ * $j } 1 .. (1 + $j % 13);
    $people{"row$j"} = [ @row, "s" x ($j % 50) ];
}
$ctx->add(scalar(keys %people));

# string growth by appending
my @strs;
for my $j (1 .. int(20000 * $scale)) {
    my $s = "";
    $s .= chr(65 + ($j + $_) % 26) x (1 + int(rand(40))) for 1 .. (1 + int(rand(40)));
    push @strs, $s;
}
$ctx->add(md5_hex(join("", @strs)));

print "perl-alloc-heavy ", $ctx->hexdigest, "\n";
