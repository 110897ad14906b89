package data

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// SelectClasses returns a new dataset of the samples of d whose label is
// one of classes (indices into d.Classes), in their order in d, relabelled
// 0..k-1 in the order of classes: the sample of class classes[j] gets
// label j, and the result's Classes are the names of classes, in that
// order. Normalization carries over. It is how a model is trained on a
// few classes of a dataset, and then fine-tuned on others.
//
// An empty list, an index outside 0..NumClasses()-1, a repeated index or
// a selection with no samples is an error.
func (d *Dataset) SelectClasses(classes []int) (*Dataset, error) {
	if len(classes) == 0 {
		return nil, errors.New("data: select classes: no classes given")
	}
	k := d.NumClasses()
	relabel := make([]int32, k) // old label -> new label + 1 (0: dropped)
	for j, c := range classes {
		if c < 0 || c >= k {
			return nil, fmt.Errorf("data: select classes: class %d out of range: the dataset has %d classes (0..%d)", c, k, k-1)
		}
		if relabel[c] != 0 {
			return nil, fmt.Errorf("data: select classes: class %d (%s) given twice", c, d.Classes[c])
		}
		relabel[c] = int32(j) + 1
	}
	var keep []int
	for i, l := range d.Labels {
		if l >= 0 && int(l) < k && relabel[l] != 0 {
			keep = append(keep, i)
		}
	}
	if len(keep) == 0 {
		return nil, fmt.Errorf("data: select classes: no samples of classes %v", classes)
	}
	out, err := d.Subset(keep)
	if err != nil {
		return nil, err
	}
	for i, l := range out.Labels {
		out.Labels[i] = relabel[l] - 1
	}
	out.Classes = make([]string, len(classes))
	for j, c := range classes {
		out.Classes[j] = d.Classes[c]
	}
	return out, nil
}

// ParseClasses resolves a class list, as a user writes it, against a
// dataset's class names: comma-separated items, each a class name (exactly
// as in names, e.g. a folder's "cat"), an index ("3") or an inclusive
// range of indices ("0-4"). An item equal to a class name is that class,
// even when it also reads as a number or a range. The result is the
// indices in the order given, ready for SelectClasses; an empty item, an
// unknown name, an index out of range, a descending range or a class
// given twice is an error naming the item.
func ParseClasses(spec string, names []string) ([]int, error) {
	byName := make(map[string]int, len(names))
	for i, n := range names {
		if _, dup := byName[n]; !dup {
			byName[n] = i
		}
	}
	var out []int
	seen := make(map[int]string)
	for item := range strings.SplitSeq(spec, ",") {
		item = strings.TrimSpace(item)
		idx, err := parseClassItem(item, names, byName)
		if err != nil {
			return nil, err
		}
		for _, c := range idx {
			if prev, dup := seen[c]; dup {
				return nil, fmt.Errorf("data: classes: %q repeats class %d (%s), already given by %q", item, c, names[c], prev)
			}
			seen[c] = item
			out = append(out, c)
		}
	}
	return out, nil
}

// parseClassItem resolves one item of a class list: a name, an index or a
// range of indices.
func parseClassItem(item string, names []string, byName map[string]int) ([]int, error) {
	k := len(names)
	if item == "" {
		return nil, errors.New("data: classes: empty item in the list")
	}
	if c, ok := byName[item]; ok {
		return []int{c}, nil
	}
	index := func(s string) (int, error) {
		c, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return 0, fmt.Errorf("data: classes: %q is neither a class name nor an index or range of indices (names: %s)", item, quoteNames(names))
		}
		if c < 0 || c >= k {
			return 0, fmt.Errorf("data: classes: %q: class %d out of range: the dataset has %d classes (0..%d)", item, c, k, k-1)
		}
		return c, nil
	}
	lo, hi, isRange := strings.Cut(item, "-")
	if !isRange || lo == "" { // "-1" is an index, and out of range
		c, err := index(item)
		return []int{c}, err
	}
	a, err := index(lo)
	if err != nil {
		return nil, err
	}
	b, err := index(hi)
	if err != nil {
		return nil, err
	}
	if a > b {
		return nil, fmt.Errorf("data: classes: range %q runs backwards (write the classes one by one for another order)", item)
	}
	out := make([]int, 0, b-a+1)
	for c := a; c <= b; c++ {
		out = append(out, c)
	}
	return out, nil
}

// quoteNames lists class names for a message, the first 20 of a long
// list.
func quoteNames(names []string) string {
	const most = 20
	q := make([]string, 0, min(len(names), most))
	for _, n := range names[:min(len(names), most)] {
		q = append(q, strconv.Quote(n))
	}
	s := strings.Join(q, ", ")
	if len(names) > most {
		s += fmt.Sprintf(", ... (%d in all)", len(names))
	}
	return s
}
