package data

import (
	"slices"
	"strings"
	"testing"
)

// TestSelectClasses: the selected samples keep their order and images,
// are relabelled in the order of the list, and carry their names and the
// normalization.
func TestSelectClasses(t *testing.T) {
	d := synthetic(50, 2, 3, 3, 10)
	d.Classes = slices.Clone(FashionMNISTClasses)
	d.Mean, d.Std = []float32{0.1, 0.2}, []float32{0.3, 0.4}
	s, err := d.SelectClasses([]int{7, 2, 5})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	if want := []string{"Sneaker", "Pullover", "Sandal"}; !slices.Equal(s.Classes, want) {
		t.Errorf("classes %q, want %q", s.Classes, want)
	}
	if s.N != 15 || s.C != d.C || s.H != d.H || s.W != d.W {
		t.Fatalf("shape %dx%dx%dx%d, want 15x%dx%dx%d", s.N, s.C, s.H, s.W, d.C, d.H, d.W)
	}
	if !slices.Equal(s.Mean, d.Mean) || !slices.Equal(s.Std, d.Std) {
		t.Errorf("normalization %v/%v, want %v/%v", s.Mean, s.Std, d.Mean, d.Std)
	}
	newLabel := map[int32]int32{7: 0, 2: 1, 5: 2}
	j := 0
	for i := range d.N {
		nl, ok := newLabel[d.Labels[i]]
		if !ok {
			continue
		}
		if s.Labels[j] != nl {
			t.Errorf("sample %d (source %d, label %d): label %d, want %d", j, i, d.Labels[i], s.Labels[j], nl)
		}
		if !slices.Equal(s.Image(j), d.Image(i)) {
			t.Errorf("sample %d: image differs from source sample %d", j, i)
		}
		j++
	}
	if j != s.N {
		t.Errorf("%d samples, want %d", s.N, j)
	}
	// The source is untouched.
	if d.N != 50 || d.NumClasses() != 10 || d.Labels[7] != 7 {
		t.Errorf("source changed: N %d, %d classes, label[7] %d", d.N, d.NumClasses(), d.Labels[7])
	}
}

func TestSelectClassesErrors(t *testing.T) {
	d := synthetic(20, 1, 2, 2, 10)
	d.Labels[3], d.Labels[13] = 2, 2 // no sample of class 3 is left
	for _, c := range []struct {
		classes []int
		want    string
	}{
		{nil, "no classes"},
		{[]int{10}, "class 10 out of range: the dataset has 10 classes (0..9)"},
		{[]int{-1}, "class -1 out of range"},
		{[]int{1, 4, 1}, "class 1 (1) given twice"},
		{[]int{3}, "no samples of classes [3]"},
	} {
		_, err := d.SelectClasses(c.classes)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("SelectClasses(%v): error %v, want one containing %q", c.classes, err, c.want)
		}
	}
}

func TestParseClasses(t *testing.T) {
	fashion := FashionMNISTClasses
	folder := []string{"cat", "dog", "3-5", "7", "bird"}
	for _, c := range []struct {
		spec  string
		names []string
		want  []int
	}{
		{"0-4", fashion, []int{0, 1, 2, 3, 4}},
		{"5,6,7,8,9", fashion, []int{5, 6, 7, 8, 9}},
		{" 9, 0 - 2 ,5", fashion, []int{9, 0, 1, 2, 5}},
		{"Sneaker,T-shirt/top,Ankle boot", fashion, []int{7, 0, 9}},
		{"4-4", fashion, []int{4}},
		{"dog,cat", folder, []int{1, 0}},
		{"bird,0-1", folder, []int{4, 0, 1}},
		{"3-5", folder, []int{2}}, // a name wins over a range
		{"7", folder, []int{3}},   // and over an index
		{"3", folder, []int{3}},
	} {
		got, err := ParseClasses(c.spec, c.names)
		if err != nil {
			t.Errorf("ParseClasses(%q): %v", c.spec, err)
			continue
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("ParseClasses(%q) = %v, want %v", c.spec, got, c.want)
		}
	}
}

func TestParseClassesErrors(t *testing.T) {
	for _, c := range []struct {
		spec, want string
	}{
		{"", "empty item"},
		{"0,,1", "empty item"},
		{"10", `"10": class 10 out of range: the dataset has 10 classes (0..9)`},
		{"-1", `"-1": class -1 out of range`},
		{"8-12", `"8-12": class 12 out of range`},
		{"4-0", `range "4-0" runs backwards`},
		{"0-4,3", `"3" repeats class 3 (Dress), already given by "0-4"`},
		{"Trouser,1", `"1" repeats class 1 (Trouser)`},
		{"trouser", `"trouser" is neither a class name nor an index or range of indices (names: "T-shirt/top", "Trouser"`},
		{"a-b", `"a-b" is neither`},
	} {
		_, err := ParseClasses(c.spec, FashionMNISTClasses)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseClasses(%q): error %v, want one containing %q", c.spec, err, c.want)
		}
	}
}
